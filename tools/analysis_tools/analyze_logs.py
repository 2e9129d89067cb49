"""Training curves from MMEngine's JSON logs, several runs on one plot.

    python tools/analysis_tools/analyze_logs.py plot_curve \\
        work_dirs/a/<timestamp>/vis_data/scalars.json work_dirs/b \\
        --keys loss erc/weighted_f1 --out curves.png

A log is a ``scalars.json`` or a work dir: all its runs' logs are joined (a resumed
run's later log replaces the epochs it repeats).  One panel per key,
one line per run; the plotted points are also written as ``<out>.csv``.
"""
import argparse
import csv
import os.path as osp

from vega_mm.analysis import (curve_points, find_scalar_logs, join_scalar_logs, plot_curves,
                              run_name, save_figure)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Analyze MMEngine JSON logs')
    tasks = parser.add_subparsers(dest='task', required=True)
    plot = tasks.add_parser('plot_curve', help='plot training / validation curves')
    plot.add_argument('json_logs', nargs='+', help='scalars.json files or work dirs')
    plot.add_argument('--keys', nargs='+', default=['loss'],
                      help='logged keys, e.g. loss erc/weighted_f1 (default: loss)')
    plot.add_argument('--legend', nargs='+', help='one name per log (default: the '
                      'work dir names)')
    plot.add_argument('--title', help='title of the figure')
    plot.add_argument('--out', required=True, help='the .png to write')
    args = parser.parse_args()
    if args.legend and len(args.legend) != len(args.json_logs):
        parser.error(f'--legend has {len(args.legend)} names for {len(args.json_logs)} logs')
    if not args.out.endswith('.png'):
        parser.error(f'--out must be a .png file, got {args.out!r}')
    return args


def main() -> None:
    args = parse_args()
    logs = {}
    try:
        for i, path in enumerate(args.json_logs):
            found = find_scalar_logs(path)
            name = args.legend[i] if args.legend else run_name(found[-1])
            if name in logs:  # two runs in folders of the same name
                name = f'{name} ({i + 1})'
            logs[name] = join_scalar_logs(found)
            print(f'{name}: {", ".join(found)} ({len(logs[name])} rows)')
        fig = plot_curves(logs, args.keys, args.title)
    except (FileNotFoundError, ValueError) as exc:
        raise SystemExit(f'error: {exc}')
    except KeyError as exc:
        raise SystemExit(f'error: {exc.args[0]}')
    save_figure(fig, args.out)
    table = osp.splitext(args.out)[0] + '.csv'
    with open(table, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['run', 'key', 'x', 'y'])
        for name, rows in logs.items():
            for key in args.keys:
                points = curve_points(rows, key)
                writer.writerows([name, key, f'{x:.4f}', y]
                                 for x, y in zip(points['x'], points['y']))
    print(f'wrote {args.out} and {table}')


if __name__ == '__main__':
    main()
