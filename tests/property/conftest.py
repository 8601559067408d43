"""The generated studies (tests/studies.py), built once per session."""

from tests.studies import BUILD_TIMES, generated_studies, study_cache  # noqa: F401  (fixtures)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "property: property tests over many generated studies (tests/studies.py); part of "
        "the default `pytest` run",
    )


def pytest_terminal_summary(terminalreporter):
    # How long the generated studies took (the property tests' budget: a few minutes).
    for line in BUILD_TIMES:
        terminalreporter.write_line(line)
