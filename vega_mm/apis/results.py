"""Printing and saving evaluation results."""
from typing import Dict, Optional

_HEADLINE = ('accuracy', 'weighted_f1', 'macro_f1')


def _strip(metrics: Dict[str, float]) -> Dict[str, float]:
    return {k.split('/', 1)[-1]: v for k, v in (metrics or {}).items()}


def format_results_table(columns: Dict[str, Optional[Dict[str, float]]]) -> str:
    """A markdown table: one row per metric, one column per split (values in %).

    Headline metrics first, then per-class F1, then per-branch weighted F1.
    """
    columns = {name: _strip(m) for name, m in columns.items() if m}
    if not columns:
        return '(no results)'
    keys = []
    for m in columns.values():
        for k in m:
            if k not in keys:
                keys.append(k)
    order = [k for k in _HEADLINE if k in keys]
    order += [k for k in keys if k.startswith('f1_')]
    order += [k for k in keys if k.startswith('weighted_f1_')]
    order += [k for k in keys if k not in order]
    names = list(columns)
    lines = ['| metric (%) | ' + ' | '.join(names) + ' |',
             '|---|' + '---:|' * len(names)]
    for k in order:
        cells = [f'{columns[n][k]:.2f}' if k in columns[n] else '' for n in names]
        lines.append(f'| {k} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)
