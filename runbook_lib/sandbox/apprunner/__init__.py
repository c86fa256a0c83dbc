"""App Runner emulator for the local sandbox: ``models`` (state + rules) and ``responses`` (JSON 1.0)."""

__all__: list[str] = []  # its modules are imported by name
