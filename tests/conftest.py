"""Test-wide settings."""
import os

import torch

# The models in the tests are tiny: one thread is faster than several, and it keeps
# parallel test runs on small machines from fighting over cores.
torch.set_num_threads(1)
os.environ.setdefault('OMP_NUM_THREADS', '1')

# Face images and random CLIP encoders, shared by tests/test_encoders and tests/test_anchors
# (defined once, so each session-wide encoder is built once).
pytest_plugins = ['tests.image_fixtures']
