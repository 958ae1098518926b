"""`python -m sauti.predict --config exp.ini`: Nkululeko's predict module, as `sauti predict` (sauti.app.nk_commands)."""

if __name__ == "__main__":
    from sauti.app.nk_commands import module_main

    module_main("predict")
