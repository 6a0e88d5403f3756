"""Every name kplink_mm registers resolves from a config, in the right host registry."""
import inspect

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope, Registry, init_default_scope


def _registered_by_package():
    import mmdet.registry
    import mmpose.registry

    import kplink_mm  # noqa: F401
    found = []
    for scope, module in (('mmdet', mmdet.registry), ('mmpose', mmpose.registry)):
        for reg_name, reg in inspect.getmembers(module, lambda r: isinstance(r, Registry)):
            for name, obj in reg.module_dict.items():
                if getattr(obj, '__module__', '').startswith('kplink_mm'):
                    found.append((scope, reg_name, name, obj))
    return found


def test_package_registers_datasets_in_both_hosts():
    names = {(scope, reg, name) for scope, reg, name, _ in _registered_by_package()}
    assert ('mmdet', 'DATASETS', 'KplinkSynthDetDataset') in names
    assert ('mmpose', 'DATASETS', 'KplinkSynthPoseDataset') in names


@pytest.mark.parametrize('entry', _registered_by_package(), ids=lambda e: f'{e[0]}.{e[1]}.{e[2]}')
def test_name_resolves_from_config(entry, tmp_path):
    scope, reg_name, name, obj = entry
    cfg_file = tmp_path / 'cfg.py'
    cfg_file.write_text(
        f"default_scope = '{scope}'\n"
        "custom_imports = dict(imports=['kplink_mm'], allow_failed_imports=False)\n"
        f"thing = dict(type='{name}')\n")
    cfg = Config.fromfile(str(cfg_file))
    init_default_scope(cfg.default_scope)
    host = __import__(f'{scope}.registry', fromlist=[reg_name])
    registry = getattr(host, reg_name)
    with DefaultScope.overwrite_default_scope(scope):
        assert registry.get(cfg.thing['type']) is obj
    # Not shadowing anything of mmengine's own (a parent registry) either.
    assert registry.parent is None or name not in registry.parent.module_dict
