"""App Runner emulator for the local sandbox: ``models`` (state + rules) and ``responses`` (JSON 1.0)."""
