"""Serve a trained model as a web page (transcripts, recordings, the microphone).

    python tools/demo_app.py CONFIG CHECKPOINT [--host 127.0.0.1] [--port 7860]

The model is loaded once; the page's address is printed when it is ready. It binds
127.0.0.1 (this machine only) unless --host says otherwise (docs/demo.md: serving it to
others). Needs the ``app`` extra: pip install 'vega_mm[app]'.
"""
import argparse
import contextlib
import os
import sys

from vega_mm.utils import CheckpointError
from vega_mm.utils.cli import set_threads


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--host', default='127.0.0.1',
                        help='address to bind (default 127.0.0.1: this machine only; '
                        '0.0.0.0: every interface)')
    parser.add_argument('--port', type=int, default=7860,
                        help='port (default 7860; 0: any free port)')
    parser.add_argument('--threads', type=int,
                        help='CPU threads of the model and Whisper (default: '
                        'OMP_NUM_THREADS, else 1)')
    parser.add_argument('--max-upload-mb', type=float, default=200.0,
                        help='largest file a user may upload (default 200)')
    parser.add_argument('--max-minutes', type=float, default=30.0,
                        help='longest recording or microphone session (default 30)')
    parser.add_argument('--asr-model', default='base',
                        help='speech recognition: a faster-whisper name or a local folder '
                        '(default: base)')
    parser.add_argument('--language', default=None,
                        help='the language spoken, e.g. en (default: detected by Whisper)')
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f'--port {args.port}: expected 0..65535')
    for name in ('max_upload_mb', 'max_minutes'):
        if getattr(args, name) <= 0:
            parser.error(f'--{name.replace("_", "-")} {getattr(args, name)}: expected a '
                         'positive number')
    if args.threads is not None and args.threads < 1:
        parser.error(f'--threads {args.threads}: expected at least 1')
    for path, what in ((args.config, 'CONFIG'), (args.checkpoint, 'CHECKPOINT')):
        if not os.path.isfile(path):
            parser.error(f'{what} {path!r} does not exist')
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise SystemExit("error: the demo page needs Gradio: pip install 'vega_mm[app]'")
    from vega_mm.apis import ConversationInferencer
    from vega_mm.apis.demo_app import DemoApp, DemoLimits
    from vega_mm.speech.media import MediaError
    threads = set_threads(args.threads)
    asr = dict(model=args.asr_model, language=args.language, cpu_threads=threads,
               device='cuda' if str(args.device).startswith('cuda') else 'cpu')
    print(f'loading {args.checkpoint} ...', flush=True)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            inferencer = ConversationInferencer(args.config, args.checkpoint,
                                                device=args.device, asr=asr)
    except (FileNotFoundError, CheckpointError, ValueError, MediaError) as exc:
        raise SystemExit(f'error: {exc}')
    asr_problem = None
    if inferencer.modalities == ('text', ):
        try:  # loaded now, so the first recording does not wait for it
            inferencer.transcriber
        except Exception as exc:  # noqa: BLE001 - the page still serves transcripts
            asr_problem = f'{type(exc).__name__}: {exc}'
            print(f'speech recognition is off: {asr_problem}', file=sys.stderr, flush=True)
    else:
        asr_problem = (f'the model reads {list(inferencer.modalities)}; only a text model is '
                       'fed from speech')
    app = DemoApp(inferencer, DemoLimits(args.max_upload_mb, args.max_minutes),
                  asr_ready=asr_problem,
                  title=f'vega_mm: {os.path.basename(args.checkpoint)}')
    demo = app.launch(args.host, args.port or None, prevent_thread_lock=True, quiet=True)
    print(f'ready: the page is at {demo.local_url}', flush=True)
    if args.host not in ('127.0.0.1', 'localhost', '::1'):
        print(f'bound to {args.host}: others on the network can open it '
              f'(port {demo.server_port})', flush=True)
    try:
        demo.block_thread()
    finally:
        app.close()


if __name__ == '__main__':
    main()
