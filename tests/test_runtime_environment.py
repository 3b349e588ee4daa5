"""Where a handler is loaded from and the environment its worker gets (computed, no process)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from edgeproxy.config_types import FunctionConfig
from edgeproxy.runtime.environment import layer_paths, parse_handler, worker_spec


def test_file_handler_is_its_own_task_root(tmp_path: Path) -> None:
    ref = parse_handler("hooks/auth.py:handler", tmp_path)
    assert ref.module == "auth"
    assert ref.attr == "handler"
    assert ref.file == tmp_path / "hooks" / "auth.py"
    assert ref.task_root == tmp_path / "hooks"


def test_module_handler_uses_the_config_folder(tmp_path: Path) -> None:
    ref = parse_handler("pkg.mod:app.handle", tmp_path)
    assert (ref.module, ref.attr, ref.file, ref.task_root) == ("pkg.mod", "app.handle", None, tmp_path)


def test_lambda_style_handler_names(tmp_path: Path) -> None:
    ref = parse_handler("lambda_function.lambda_handler", tmp_path)
    assert (ref.module, ref.attr, ref.file) == ("lambda_function", "lambda_handler", None)
    ref = parse_handler("src/index.handler", tmp_path)
    assert (ref.module, ref.file) == ("index", tmp_path / "src" / "index.py")


def test_absolute_file_path_ignores_base_dir(tmp_path: Path) -> None:
    ref = parse_handler(f"{tmp_path}/h.py:handler", Path("/elsewhere"))
    assert ref.file == tmp_path / "h.py"


@pytest.mark.parametrize("bad", ["handler", ":handler", "file.py:", ""])
def test_malformed_names(bad: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Bad handler"):
        parse_handler(bad, tmp_path)
    spec = worker_spec(FunctionConfig(name="f", handler=bad, base_dir=tmp_path), region="us-east-1")
    assert spec.init is None
    assert spec.init_error is not None and spec.init_error.startswith("Runtime.MalformedHandlerName: Bad handler")


def test_layer_paths_follow_lambda_layout(tmp_path: Path) -> None:
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = tmp_path / "layer" / "python" / "lib" / version / "site-packages"
    site.mkdir(parents=True)
    (tmp_path / "plain").mkdir()
    assert layer_paths((Path("layer"), Path("plain")), tmp_path) == [
        str(site),
        str(tmp_path / "layer" / "python"),
        str(tmp_path / "layer"),
        str(tmp_path / "plain"),
    ]


def test_environment_has_lambdas_variables_only(tmp_path: Path) -> None:
    config = FunctionConfig(name="auth", handler="hooks/auth.py:handler", base_dir=tmp_path, memory_mb=256)
    spec = worker_spec(config, region="eu-west-1", environ={"HOME": "/root", "SECRET": "x", "AWS_ACCESS_KEY_ID": "AKIA"})
    env = spec.environment(provisioned=False)
    assert env["_HANDLER"] == "hooks/auth.py:handler"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["AWS_EXECUTION_ENV"] == f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "us-east-1.auth"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "1"
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/us-east-1.auth"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[1\][0-9a-f]{32}", env["AWS_LAMBDA_LOG_STREAM_NAME"])
    assert env["LAMBDA_TASK_ROOT"] == str(tmp_path / "hooks")
    assert env["TZ"] == ":UTC"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["AWS_ACCESS_KEY_ID"] == "AKIA"  # the "execution role", when the proxy has one
    assert "HOME" not in env and "SECRET" not in env
    assert spec.environment(provisioned=True)["AWS_LAMBDA_INITIALIZATION_TYPE"] == "provisioned-concurrency"
    assert spec.environment(provisioned=False)["AWS_LAMBDA_LOG_STREAM_NAME"] != env["AWS_LAMBDA_LOG_STREAM_NAME"]
