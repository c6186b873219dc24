"""tools.zoo.meta_schema: which copy of MONAI's metadata schema is used, without a network."""

import pytest

from tools.zoo import meta_schema as ms


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """No environment variable, no ../shared copy, an empty user cache."""
    monkeypatch.delenv(ms.ENV_VAR, raising=False)
    monkeypatch.setattr(ms, "SHARED_COPY", tmp_path / "shared" / ms.SCHEMA_NAME)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


def test_environment_variable_first(nowhere, monkeypatch):
    named = nowhere / "my_schema.json"
    named.write_text("{}")
    (nowhere / "shared").mkdir()
    ms.SHARED_COPY.write_text("{}")
    monkeypatch.setenv(ms.ENV_VAR, str(named))
    assert ms.meta_schema(download=False) == named
    monkeypatch.setenv(ms.ENV_VAR, str(nowhere / "missing.json"))
    with pytest.raises(FileNotFoundError, match="MONAI_META_SCHEMA=.*missing.json: no such file"):
        ms.meta_schema(download=False)


def test_shared_copy_then_user_cache(nowhere):
    cached = nowhere / "cache" / "imbalanced_segmentation" / ms.SCHEMA_NAME
    assert ms.cache_path() == cached
    cached.parent.mkdir(parents=True)
    cached.write_text("{}")
    assert ms.meta_schema(download=False) == cached
    (nowhere / "shared").mkdir()
    ms.SHARED_COPY.write_text("{}")
    assert ms.meta_schema(download=False) == ms.SHARED_COPY


def test_no_copy_and_no_download_names_the_places(nowhere):
    with pytest.raises(FileNotFoundError, match="set MONAI_META_SCHEMA, put it at .*shared.* or .*cache"):
        ms.meta_schema(download=False)


def test_download_url_is_the_metadata_schema():
    assert ms.schema_url() == (
        "https://github.com/Project-MONAI/MONAI-extra-test-data/releases/download/0.8.1/meta_schema_20240725.json"
    )


def test_packager_names_the_way_out_when_there_is_no_schema(nowhere, monkeypatch):
    from tools.zoo import checks

    def offline(**kwargs):
        raise OSError("Name or service not known")

    monkeypatch.setattr("monai.apps.utils.download_url", offline)
    with pytest.raises(FileNotFoundError, match="download failed .*OSError: Name or service not known.*pass --schema"):
        checks.check_metadata(b"{}", "metadata.json")


def test_schema_path_prints_the_local_copy_for_verify_metadata(nowhere, monkeypatch, capsys):
    from tools.zoo import schema_path

    named = nowhere / "copy.json"
    named.write_text("{}")
    monkeypatch.setenv(ms.ENV_VAR, str(named))
    assert schema_path.main() == 0
    assert capsys.readouterr().out.strip() == str(named)


def test_schema_path_without_a_copy_offline_ends_in_one_line(nowhere, monkeypatch, capsys):
    from tools.zoo import schema_path

    def offline(**kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr("monai.apps.utils.download_url", offline)
    assert schema_path.main() == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"error: cannot download {ms.SCHEMA_NAME} (OSError); set {ms.ENV_VAR} to a copy or put one at {ms.SHARED_COPY}"
    ]
