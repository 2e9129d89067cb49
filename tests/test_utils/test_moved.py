"""Moved names: their old, documented places give an ImportError naming the new place
(or, for ``vega_mm.features.speech``, still import); the packages by job export what
moved into them."""
import importlib
import subprocess
import sys

import pytest

import vega_mm.conversations as conversations
import vega_mm.speech as speech

def test_the_documented_speech_module_still_imports_the_same_objects():
    from vega_mm.features.speech import SpeechSegmenter, recording_utterances, replay
    assert (SpeechSegmenter, recording_utterances, replay) == \
        (speech.SpeechSegmenter, speech.recording_utterances, speech.replay)


def test_an_internal_old_module_path_is_gone():
    for old in ('vega_mm.features.media', 'vega_mm.encoders.asr',
                'vega_mm.datasets.formats.subtitles', 'vega_mm.datasets.formats.table'):
        with pytest.raises(ImportError):
            importlib.import_module(old)


@pytest.mark.parametrize('statement,new', [
    ('from vega_mm.encoders import WhisperTranscriber', 'vega_mm.speech'),
    ('from vega_mm.features import load_audio_segment', 'vega_mm.speech'),
    ('from vega_mm.features import media', 'vega_mm.speech.media'),
    ('from vega_mm.encoders import asr', 'vega_mm.speech'),
    ('from vega_mm.datasets.formats import load_dialogues', 'vega_mm.conversations'),
    ('from vega_mm.datasets.formats import read_subtitles', 'vega_mm.conversations'),
    ('from vega_mm.datasets.formats import subtitles', 'vega_mm.conversations.subtitles'),
])
def test_an_old_name_names_its_new_place(statement, new):
    with pytest.raises(ImportError, match=f'moved to {new}$'):
        exec(statement, {})


def test_other_missing_names_stay_attribute_errors():
    import vega_mm.datasets.formats as formats
    import vega_mm.features as features
    assert not hasattr(formats, 'no_such_name') and not hasattr(features, 'no_such_name')


def test_the_packages_export_what_moved_into_them():
    for package in (conversations, speech):
        missing = [n for n in package.__all__ if not hasattr(package, n)]
        assert not missing, f'{package.__name__}.__all__ names missing objects: {missing}'
    assert {'read_conversation_table', 'load_dialogues', 'read_subtitles', 'load_tables',
            'make_utterance', 'build_speaker_map', 'decode_table_bytes'} <= \
        set(conversations.__all__)
    assert {'SpeechSegmenter', 'WhisperTranscriber', 'cluster_speakers', 'probe_media',
            'open_audio_stream', 'read_audio_blocks'} <= set(speech.__all__)
    # Raw-conversation names are no longer feature-file names.
    import vega_mm.datasets.formats as formats
    assert not set(formats.__all__) & set(conversations.__all__)


def test_feature_files_are_sniffed_first_whichever_package_is_imported_first():
    code = ('import vega_mm.conversations, vega_mm.datasets; '
            'from vega_mm.utils.input_format import input_formats; '
            'print(" ".join(f.name for f in input_formats()))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ['pickle', 'native', 'csv', 'jsonl', 'srt', 'vtt']
