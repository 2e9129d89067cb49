"""The emotion timeline: a PNG, one row per speaker, one bar per utterance, strips for a
long recording, clear errors for predictions without times."""
import pytest

from vega_mm.analysis import emotion_colors, format_clock, plot_emotion_timeline, \
    timeline_figure

CLASSES = ['neutral', 'joy', 'anger', 'sadness']


def record(i, speaker, start, end, label='joy', p=0.8):
    probs = {c: (1 - p) / 3 for c in CLASSES}
    probs[label] = p
    return dict(dialogue_id='rec', utterance_id=str(i), speaker=speaker, text='t',
                start=start, end=end, pred_label=CLASSES.index(label), pred_class=label,
                pred_score=p, pred_scores=probs, branch_predictions={})


SHORT = [record(0, 'Ross', 0.5, 2.0, 'anger', 0.9), record(1, 'Rachel', 2.2, 4.0, 'sadness', 0.4),
         record(2, 'Ross', 3.5, 6.0), record(3, 'Rachel', 6.5, 7.0, 'neutral', 0.55),
         record(4, 'Ross', 7.2, 9.0), record(5, 'Rachel', 9.5, 12.0, 'joy', 1.0)]


def test_a_png_is_written(tmp_path):
    out = plot_emotion_timeline(SHORT[:2], CLASSES, str(tmp_path / 'sub' / 'timeline.png'))
    assert open(out, 'rb').read(8) == b'\x89PNG\r\n\x1a\n'


def test_one_row_per_speaker_one_bar_per_utterance_height_is_confidence():
    fig = timeline_figure(SHORT, CLASSES)
    [ax] = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ['Ross', 'Rachel']
    bars = {c.get_label(): list(c) for c in ax.containers}
    assert {k: len(v) for k, v in bars.items()} == {'Ross': 3, 'Rachel': 3}
    rachel = sorted(bars['Rachel'], key=lambda r: r.get_x())
    assert [v for r in rachel for v in (r.get_x(), r.get_width())] == pytest.approx(
        [2.2, 1.8, 6.5, 0.5, 9.5, 2.5])
    heights = [r.get_height() for r in rachel]
    assert heights[0] / heights[2] == pytest.approx(0.4)  # probability 0.4 vs 1.0
    colors = emotion_colors(CLASSES)
    from matplotlib.colors import to_hex
    assert to_hex(rachel[0].get_facecolor()) == colors['sadness'].lower()
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == CLASSES and 'probability' in fig.legends[0].get_title().get_text()
    assert ax.xaxis.get_major_formatter()(75, 0) == '1:15'


def test_a_long_recording_is_cut_into_strips():
    recs = [record(i, f'S{i % 3}', 5.4 * i, 5.4 * i + 5, CLASSES[i % 4], 0.3 + 0.7 * (i % 2))
            for i in range(2000)]  # three hours
    fig = timeline_figure(recs, CLASSES)
    assert 1 < len(fig.axes) <= 12
    drawn = set()
    for ax in fig.axes:
        assert [t.get_text() for t in ax.get_yticklabels()] == ['S0', 'S1', 'S2']
        drawn.update(round(r.get_x(), 6) for c in ax.containers for r in c)
    assert drawn == {round(5.4 * i, 6) for i in range(2000)}  # every utterance, somewhere
    assert fig.axes[0].xaxis.get_major_formatter()(3725, 0) == '1:02:05'
    assert fig.get_size_inches()[0] <= 24 and fig.get_size_inches()[1] <= 40


def test_colours_are_fixed_and_distinct():
    colors = emotion_colors(['neutral', 'surprise', 'fear', 'sadness', 'joy', 'disgust',
                             'anger'])
    assert colors['neutral'] == '#999999' and colors['anger'] == '#D55E00'
    assert len(set(colors.values())) == 7
    many = emotion_colors([f'c{i}' for i in range(15)])
    assert len(set(many.values())) == 15
    assert format_clock(59.6) == '1:00' and format_clock(3600, hours=True) == '1:00:00'


def test_records_without_times_or_of_several_dialogues_are_refused(tmp_path):
    no_times = [dict(r) for r in SHORT]
    del no_times[2]['start']
    with pytest.raises(ValueError, match=r"record 2 \(dialogue 'rec', utterance '2'\) has no "
                       r"start/end time; the timeline needs utterance times"):
        plot_emotion_timeline(no_times, CLASSES, str(tmp_path / 't.png'))
    assert not (tmp_path / 't.png').exists()
    with pytest.raises(ValueError, match="pred_class 'bored', not one of the classes"):
        timeline_figure([dict(SHORT[0], pred_class='bored')], CLASSES)
    with pytest.raises(ValueError, match='hold 2 dialogues'):
        timeline_figure([SHORT[0], dict(SHORT[1], dialogue_id='x')], CLASSES)
    with pytest.raises(ValueError, match='no predictions'):
        timeline_figure([], CLASSES)


def test_records_of_the_earlier_infer_layout_draw_the_same_timeline():
    """Before the one record, tools/infer.py wrote pred_label as a class name and
    probabilities {class: p}: such files still draw the same bars."""
    old = [dict({k: v for k, v in r.items() if k not in ('pred_class', 'pred_score',
                                                         'pred_scores')},
                pred_label=r['pred_class'], pred_label_index=r['pred_label'],
                probabilities=r['pred_scores']) for r in SHORT]

    def bars(fig):
        return [(p.get_x(), p.get_width(), p.get_height(), p.get_facecolor())
                for ax in fig.axes for c in ax.containers for p in c]
    assert bars(timeline_figure(old, CLASSES)) == bars(timeline_figure(SHORT, CLASSES))
    with pytest.raises(ValueError, match='not a prediction record'):
        timeline_figure([dict(SHORT[0], pred_label=None)], CLASSES)
