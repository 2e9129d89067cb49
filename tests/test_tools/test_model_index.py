"""The model index (model-index.yml and the configs' metafiles, OpenMMLab's format):
every file and config it names exists, and every result says how it was measured."""
import yaml

from tests.test_tools.common import REPO


def _load(path):
    with open(REPO / path) as f:
        return yaml.safe_load(f)


def test_model_index_names_existing_metafiles_and_configs():
    index = _load('model-index.yml')
    assert index['Import'], 'model-index.yml imports no metafile'
    names = set()
    for metafile in index['Import']:
        meta = _load(metafile)
        collections = {c['Name'] for c in meta['Collections']}
        for model in meta['Models']:
            assert model['In Collection'] in collections, (metafile, model['Name'])
            assert (REPO / model['Config']).is_file(), (metafile, model['Config'])
            assert model['Name'] == (REPO / model['Config']).stem
            assert model['Name'] not in names, f'{model["Name"]} listed twice'
            names.add(model['Name'])
            for result in model.get('Results') or []:
                # only numbers we measured, each with the command that measured it
                assert result['Command'].startswith('python tools/'), model['Name']
                for value in result['Metrics'].values():
                    assert 0 <= value <= 100, (model['Name'], result['Metrics'])


def test_mim_search_shows_the_numbers_at_its_default_width():
    """``mim search vega_mm`` prints ``<dataset>/<metric>`` keys (lower case) beside the
    values; where the longest key plus 2 leaves no room for a value within its default
    80 columns, every value is printed blank (as it was with ~103-character keys)."""
    keys = []
    for metafile in _load('model-index.yml')['Import']:
        for model in _load(metafile)['Models']:
            keys += list((model.get('Metadata') or {}))
            for result in model.get('Results') or []:
                keys += [f'{result["Dataset"].lower()}/{"_".join(m.lower().split())}'
                         for m in result['Metrics']]
    longest = max(keys, key=len)
    assert len(longest) + 2 + len('100.00') <= 80, longest
