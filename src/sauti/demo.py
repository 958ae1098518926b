"""`python -m sauti.demo --config exp.ini ...`: Nkululeko's demo module, as `sauti demo` (sauti.app.cli)."""

if __name__ == "__main__":
    from sauti.app.cli import module_main

    module_main("demo")
