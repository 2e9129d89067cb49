"""The emotion timeline of one recording: a row per speaker, a bar per utterance.

Each utterance is a bar from its start to its end, coloured by its predicted emotion
(one fixed, colour-blind-friendly colour per class: :func:`emotion_colors`) and as tall
as the probability of that emotion (the grey band behind a row is probability 1).  A
long recording is cut into strips of equal length stacked top to bottom (whole minutes,
15 or more each, at most 12 strips), so a three-hour recording stays readable; the
emotion's name is written in a bar when it fits.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple

from vega_mm.structures.records import upgrade_records
from .figures import new_figure, save_figure

__all__ = ['emotion_colors', 'timeline_figure', 'plot_emotion_timeline', 'format_clock']

# Okabe & Ito's palette (distinguishable with the common colour-vision deficiencies).
_GREY, _ORANGE, _SKY, _GREEN, _YELLOW, _BLUE, _VERMILLION, _PURPLE = (
    '#999999', '#E69F00', '#56B4E9', '#009E73', '#F0E442', '#0072B2', '#D55E00', '#CC79A7')
_PALETTE = (_VERMILLION, _BLUE, _ORANGE, _GREEN, _PURPLE, _SKY, _YELLOW, _GREY)
_PREFERRED = {
    'neutral': _GREY, 'anger': _VERMILLION, 'angry': _VERMILLION, 'ang': _VERMILLION,
    'joy': _ORANGE, 'happy': _ORANGE, 'happiness': _ORANGE, 'hap': _ORANGE,
    'sadness': _BLUE, 'sad': _BLUE, 'disgust': _GREEN, 'fear': _PURPLE,
    'frustrated': _PURPLE, 'frustration': _PURPLE, 'fru': _PURPLE, 'surprise': _SKY,
    'excited': _YELLOW, 'excitement': _YELLOW, 'exc': _YELLOW, 'neu': _GREY}
_MAX_STRIPS = 12
_TICK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)
_ONE_STRIP = 900.0  # up to 15 minutes: one strip
_MAX_WIDTH, _MIN_WIDTH, _MAX_HEIGHT = 24.0, 8.0, 40.0  # inches
_DPI = 120
_ROW = 0.8  # a speaker's row height (data units; rows are 1 apart)


def emotion_colors(classes: Sequence[str]) -> Dict[str, str]:
    """One fixed colour per class: the usual emotions keep theirs (neutral grey, anger
    vermillion, joy orange, sadness blue, ...), other classes take the free colours of
    Okabe & Ito's palette in class order, then matplotlib's ``tab20``."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex
    colors: Dict[str, str] = {}
    for c in classes:
        wish = _PREFERRED.get(str(c).lower())
        if wish is not None and wish not in colors.values():
            colors[c] = wish
    spare = [p for p in _PALETTE if p not in colors.values()]
    spare += [to_hex(colormaps['tab20'](i)) for i in range(20)]
    for c in classes:
        if c not in colors:
            colors[c] = next(p for p in spare if p not in colors.values())
    return {c: colors[c] for c in classes}


def format_clock(seconds: float, hours: bool = False) -> str:
    """``75`` -> ``'1:15'``; with ``hours``: ``'0:01:15'``."""
    total = int(round(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f'{h}:{m:02d}:{s:02d}' if hours else f'{h * 60 + m}:{s:02d}'


def _where(i: int, r: dict) -> str:
    return (f'record {i} (dialogue {r.get("dialogue_id")!r}, utterance '
            f'{r.get("utterance_id")!r})')


def _bars(records: Sequence[dict], classes: Sequence[str]) -> List[Tuple]:
    """(start, end, speaker, label, probability) per record, checked."""
    if not records:
        raise ValueError('emotion timeline: no predictions to plot')
    records = upgrade_records(records, classes, 'emotion timeline')
    dialogues = list(dict.fromkeys(r.get('dialogue_id') for r in records))
    if len(dialogues) > 1:
        raise ValueError(f'emotion timeline: the predictions hold {len(dialogues)} '
                         f'dialogues ({dialogues[:5]}); a timeline shows one recording')
    out = []
    for i, r in enumerate(records):
        start, end = r.get('start'), r.get('end')
        if not all(isinstance(t, (int, float)) and math.isfinite(t) for t in (start, end)):
            raise ValueError(f'emotion timeline: {_where(i, r)} has no start/end time; the '
                             'timeline needs utterance times (a transcript with times: '
                             '.srt/.vtt, or a table with start/end columns)')
        if end <= start:
            raise ValueError(f'emotion timeline: {_where(i, r)} ends at {end} s, not after '
                             f'its start at {start} s')
        label = r.get('pred_class')
        if label not in classes:
            raise ValueError(f'emotion timeline: {_where(i, r)} has pred_class {label!r}, '
                             f'not one of the classes {list(classes)}')
        prob = r.get('pred_score', 1.0)
        speaker = r.get('speaker')
        out.append((float(start), float(end), 'unknown' if speaker is None else str(speaker),
                    label, min(1.0, max(0.0, float(prob)))))
    return out


def _layout(duration: float, n_utts: int, n_speakers: int) -> Tuple[float, int, float, float]:
    """(strip length in s, number of strips, width, height in inches): one strip up to
    15 minutes (a little longer than the last utterance), else strips of whole minutes,
    at least 15, as few as fit in the height allowed."""
    strip_height = 0.34 * n_speakers + 0.75
    if duration <= _ONE_STRIP:
        width = min(_MAX_WIDTH, max(_MIN_WIDTH, 2.5 + 0.12 * n_utts))
        return duration * 1.02, 1, width, strip_height + 1.4
    fit = max(1, int((_MAX_HEIGHT - 1.4) // strip_height))
    count = min(math.ceil(duration / _ONE_STRIP), fit, _MAX_STRIPS)
    span = math.ceil(duration / count / 60) * 60
    count = math.ceil(duration / span)
    return float(span), count, _MAX_WIDTH, count * strip_height + 1.4


def _tick_step(span: float, width: float) -> float:
    """A round tick step giving about one tick per inch."""
    return next((s for s in _TICK_STEPS if span / s <= max(4.0, width)), _TICK_STEPS[-1])


def _draw_strip(ax, bars, speakers, colors, lo, hi, width_in, clock_hours) -> None:
    """One strip of the timeline: [lo, hi) seconds, every speaker's row."""
    from matplotlib.ticker import FuncFormatter, MultipleLocator
    row = {s: k for k, s in enumerate(speakers)}
    for k in range(len(speakers)):
        ax.axhspan(k - _ROW / 2, k + _ROW / 2, color='0.93', zorder=0, lw=0)
    px_per_s = width_in * _DPI / max(hi - lo, 1e-9)
    for s in speakers:
        mine = [b for b in bars if b[2] == s and b[1] > lo and b[0] < hi]
        if not mine:
            continue
        heights = [_ROW * b[4] for b in mine]
        ax.barh([row[s] + _ROW / 2 - h / 2 for h in heights], [b[1] - b[0] for b in mine],
                height=heights, left=[b[0] for b in mine], label=s,
                color=[colors[b[3]] for b in mine], edgecolor='white', linewidth=0.3,
                zorder=2)
        for b in mine:
            text = f'{b[3]} {b[4]:.2f}'
            if (min(b[1], hi) - max(b[0], lo)) * px_per_s > 6.5 * len(text) + 6:
                ax.text((max(b[0], lo) + min(b[1], hi)) / 2, row[s] - _ROW / 2 + 0.04, text,
                        ha='center', va='top', fontsize=7, zorder=3, clip_on=True,
                        # legible over a tall bar of any colour
                        bbox=dict(boxstyle='round,pad=0.15', fc='white', ec='none',
                                  alpha=0.75))
    ax.set_xlim(lo, hi)
    ax.set_ylim(len(speakers) - 0.5, -0.5)  # first speaker on top
    ax.set_yticks(range(len(speakers)), labels=speakers)
    ax.xaxis.set_major_locator(MultipleLocator(_tick_step(hi - lo, width_in)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda t, _: format_clock(t, clock_hours)))
    ax.tick_params(axis='x', labelsize=8)
    for side in ('top', 'right'):
        ax.spines[side].set_visible(False)


def timeline_figure(records: Sequence[dict], classes: Sequence[str],
                    title: Optional[str] = None):
    """The timeline as a matplotlib ``Figure`` (one ``Axes`` per strip; in each, one
    ``BarContainer`` per speaker with a bar per utterance of the strip).

    Args:
        records: one recording's prediction records (:mod:`vega_mm.structures.records`,
            as ``ConversationInferencer`` returns them) with ``start``, ``end``,
            ``speaker``, ``pred_class`` and ``pred_score``; records of the layout
            ``tools/infer.py`` wrote before are read too.
        classes: the model's classes (every one is in the legend).
        title: the figure's title (default: the number of utterances and the length).

    Raises:
        ValueError: no records, a record without times or with an unknown class,
            records of several dialogues.
    """
    from matplotlib.patches import Patch
    bars = _bars(records, classes)
    speakers = list(dict.fromkeys(b[2] for b in bars))
    duration = max(b[1] for b in bars)
    span, count, width, height = _layout(duration, len(bars), len(speakers))
    hours = duration >= 3600
    fig = new_figure((width, height))
    axes = fig.subplots(count, 1, squeeze=False)[:, 0]
    colors = emotion_colors(classes)
    for i, ax in enumerate(axes):
        _draw_strip(ax, bars, speakers, colors, i * span, (i + 1) * span, width - 1.5, hours)
    axes[-1].set_xlabel('time (h:mm:ss)' if hours else 'time (m:ss)')
    handles = [Patch(color=colors[c], label=c) for c in classes]
    size = 9 if width < 16 else 12  # a wide picture is looked at from further away
    fig.legend(handles=handles, loc='outside lower center', ncols=min(len(classes), 10),
               fontsize=size, frameon=False, title_fontsize=size,
               title='colour: predicted emotion; bar height: its probability '
                     '(the grey band is 1.0)')
    plural = '' if len(bars) == 1 else 's'
    fig.suptitle(title or f'Emotion timeline: {len(bars)} utterance{plural}, '
                 f'{format_clock(duration, hours)}' + (f', {count} strips of '
                                                       f'{format_clock(span, hours)}'
                                                       if count > 1 else ''),
                 fontsize=size + 3)
    return fig


def plot_emotion_timeline(records: Sequence[dict], classes: Sequence[str], out_path: str,
                          title: Optional[str] = None) -> str:
    """Draw the emotion timeline of one recording (:func:`timeline_figure`) into the
    PNG ``out_path`` (its folder is made) and return the path."""
    return save_figure(timeline_figure(records, classes, title), out_path, dpi=_DPI)
