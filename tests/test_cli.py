import click
from click.testing import CliRunner
from pconv import cli


def test_version_and_help():
    runner = CliRunner()
    result = runner.invoke(cli.main, ["--version"])
    assert result.exit_code == 0 and "pconv, version" in result.output
    assert "masks" in runner.invoke(cli.main, ["--help"]).output


def test_library_errors_become_one_line(monkeypatch):
    @cli.main.command("explode-for-test")
    def explode() -> None:
        raise ValueError("clip.mp4: not a video\nsecond line")

    try:
        monkeypatch.delenv("PCONV_DEBUG", raising=False)
        result = CliRunner().invoke(cli.main, ["explode-for-test"])
        assert result.exit_code == 1
        assert result.output == "Error: clip.mp4: not a video\n"
    finally:
        cli.main.commands.pop("explode-for-test")
    assert isinstance(cli.main.commands["masks"], click.Group)


def test_opencv_refusals_become_one_line(monkeypatch):
    import cv2

    @cli.main.command("opencv-for-test")
    def refuse() -> None:
        raise cv2.error(
            "OpenCV(4.12.0) dis.cpp:1404: error: (-215:Assertion failed) width >= 12 in function 'calc'\n"
        )

    try:
        monkeypatch.delenv("PCONV_DEBUG", raising=False)
        result = CliRunner().invoke(cli.main, ["opencv-for-test"])
        assert result.exit_code == 1
        assert result.output == (
            "Error: OpenCV(4.12.0) dis.cpp:1404: error: (-215:Assertion failed) "
            "width >= 12 in function 'calc'\n"
        )
    finally:
        cli.main.commands.pop("opencv-for-test")
