"""Replaced by ``tools/infer.py``, which reads feature files, conversation tables and
live input and writes every prediction field."""
import sys

if __name__ == '__main__':
    sys.exit('tools/predict.py was replaced by tools/infer.py: '
             'python tools/infer.py CONFIG CHECKPOINT FEATURES_OR_TABLE --out preds.jsonl')
