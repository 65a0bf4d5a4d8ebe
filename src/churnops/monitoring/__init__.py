"""Drift monitoring: the inference log (or a file) against each model version's reference.

``stats_tests`` holds the per-feature statistics, ``rule`` the decision rule, ``compare`` one
comparison, ``drift`` the per-version and per-chunk run, ``run`` the whole stage; ``results`` is
the typed report they produce, ``narrative`` puts it in words; ``report`` (JSON), ``terminal``,
``html_report`` (with ``html_charts``) and ``alert`` are its outputs; ``shifts`` and
``simulate`` make traffic.
"""
