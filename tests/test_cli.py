from conftest import run_cli


def test_help_lists_commands():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "commands" in result.stdout


def test_no_command_prints_help_and_fails():
    result = run_cli()
    assert result.returncode != 0
    assert "usage: attire" in result.stdout
