"""`python -m sauti.test --config exp.ini ...`: Nkululeko's test module, as `sauti test` (sauti.app.cli)."""

if __name__ == "__main__":
    from sauti.app.cli import module_main

    module_main("test")
