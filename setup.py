"""kplink_mm: KLPNet and Occlusion-Net as mmdet/mmpose extensions.

`pip install -e .` is for users who already have the OpenMMLab stack; `make env`
builds the full pinned stack (mmcv needs a patched C++20 build on torch 2.14).
"""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent


def read_requirements(name):
    """Pins from requirements/NAME, without the `# env-only` ones (see that file)."""
    lines = (HERE / 'requirements' / name).read_text().splitlines()
    return [ln.split('#')[0].strip() for ln in lines
            if ln.split('#')[0].strip() and 'env-only' not in ln]


def version():
    scope = {}
    exec((HERE / 'kplink_mm' / 'version.py').read_text(), scope)
    return scope['__version__']


setup(
    name='kplink_mm',
    version=version(),
    description='KLPNet (category-implicit keypoints + links) and Occlusion-Net '
    'for mmdet/mmpose',
    long_description=(HERE / 'README.md').read_text(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['kplink_mm', 'kplink_mm.*']),
    python_requires='>=3.9',
    install_requires=read_requirements('runtime.txt'),
    extras_require={'tests': read_requirements('tests.txt')},
    include_package_data=True,
    zip_safe=False,
)
