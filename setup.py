"""Install featkit: ``pip install .`` (add ``[test]`` for the test suite)."""

from pathlib import Path

from setuptools import find_packages, setup

here = Path(__file__).parent
version: dict[str, str] = {}
exec((here / "featkit" / "_version.py").read_text(), version)

setup(
    name="featkit",
    version=version["__version__"],
    description="Turn videos into VAE features for scikit-learn: decode, encode, store in HDF5.",
    long_description=(here / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    # pipelines/ stays a top-level folder of the repository but installs as featkit.pipelines, so the wheel
    # claims no generic top-level name in site-packages.
    packages=[*find_packages(include=["featkit", "featkit.*"]), "featkit.pipelines"],
    package_dir={"featkit.pipelines": "pipelines"},
    package_data={
        "featkit.encoders": [
            "weights/default.weights.h5",
            "weights/default.json",
            "weights/default.tflite",
            "weights/default_decoder.tflite",
        ]
    },
    include_package_data=True,
    install_requires=[
        "numpy>=1.24",
        "h5py>=3.8",
        # The maintained decord fork: same `import decord`, newer FFmpeg.
        "decord2>=3.4",
        "tensorflow>=2.16,<2.22",
        "keras>=3.3",
        # Runs the shipped default encoder's TensorFlow Lite model without importing TensorFlow (fast start).
        "ai-edge-litert>=2.1",
        "joblib>=1.3",
        "scikit-learn>=1.6",
        "skops>=0.10",
        "matplotlib>=3.7",
        "tqdm>=4.60",
        # The fallback decoder (and the writer of reconstructed / completed videos).
        "av>=12",
        "pillow>=9",
    ],
    extras_require={
        "test": [
            "pytest>=8",
            "hypothesis>=6.100",
            "ruff>=0.6",
            "pandas>=2",
            "psutil>=5.9",
            "distributed>=2024.1",
            "tensorflow-hub>=0.16",
            "tf-keras",
            "setuptools<82",
            # tests/unit/test_packaging.py builds the wheel without build isolation.
            "wheel>=0.40",
            "opencv-python-headless>=4.8",
        ],
        "hub": ["tensorflow-hub>=0.16", "tf-keras", "setuptools<82"],
        "dask": ["distributed>=2024.1"],
        "bench": ["opencv-python-headless>=4.8", "psutil>=5.9", "scikit-image>=0.22"],
    },
    entry_points={"console_scripts": ["featkit=featkit.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Multimedia :: Video",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
