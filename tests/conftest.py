"""Test-wide settings."""
import os

import torch

# The models in the tests are tiny: one thread is faster than several, and it keeps
# parallel test runs on small machines from fighting over cores.
torch.set_num_threads(1)
os.environ.setdefault('OMP_NUM_THREADS', '1')
