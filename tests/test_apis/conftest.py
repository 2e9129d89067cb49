"""The inference fixtures (tests/inference_fixtures.py), shared with tools/infer.py's
tests in tests/test_tools."""
from tests.inference_fixtures import (causal_model, feature_file, meld_like_tables,  # noqa: F401
                                      text_model, train_meta, transcripts)
