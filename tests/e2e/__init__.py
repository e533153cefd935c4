"""End-to-end tests: the real ``rota`` command in subprocesses."""
