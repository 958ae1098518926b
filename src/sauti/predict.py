"""`python -m sauti.predict --config exp.ini`: Nkululeko's predict module, as `sauti predict` (sauti.app.cli)."""

if __name__ == "__main__":
    from sauti.app.cli import module_main

    module_main("predict")
