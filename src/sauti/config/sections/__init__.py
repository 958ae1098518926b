"""One module per config section with the checks and normalisation the JSON-Schema cannot express.

Why here and not next to the stage that uses the section: config.resolve runs every check
before any job starts, and config sits below ml and stages, so the checks (and the vocabulary
they check against: augmentation types, ensemble methods, OPTIM metrics) live in config and
the stage and ml modules import them from here. Each `check_config(cfg, source)` takes a
resolved config (every default filled) and raises ConfigError with one line.
"""
