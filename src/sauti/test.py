"""`python -m sauti.test --config exp.ini ...`: Nkululeko's test module, as `sauti test` (sauti.app.model_cli)."""

if __name__ == "__main__":
    from sauti.app.nk_commands import module_main

    module_main("test")
