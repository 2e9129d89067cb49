"""Adapters of the published code of the model zoo's methods, for
``tools/benchmarks/published_parity.py`` (not part of vega_mm: the published
repositories keep their own licences, and the shims for their old APIs stay here).

One module per method (``dialoguegcn``, ``mmgcn``, ``m3net``, ``graphsmile``), each
with ``SIZES``, ``NOT_COUNTED``, ``import_published(folder)``, ``check_size(module,
name, size, seed, rtol, gtol)`` and ``speed(module, name, size, steps, seed)``; the
checks they share are in ``lstm_models`` and ``norm_models``, the rest in ``common``.
"""
