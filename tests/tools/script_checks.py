"""Checks shared by the tests of shell scripts that need a GPU or the network to run."""
import os.path as osp
import re
import subprocess

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def assert_parses_and_names_existing_configs(script: str, min_configs: int) -> None:
    """`bash -n` accepts the script and every `configs/...py` it names exists (a renamed
    config must not silently drop out of a check that only runs on another machine)."""
    subprocess.run(['bash', '-n', script], check=True)
    with open(script) as f:
        configs = re.findall(r'configs/[\w./-]+\.py', f.read())
    assert len(configs) >= min_configs
    for config in configs:
        assert osp.isfile(osp.join(REPO, config)), config
