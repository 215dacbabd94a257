"""A generated city of households, as its departments hold them: the hard cases for linkage.

``subjects.generate`` draws independent persons; real department records are harder. Here
people live in households that share an address and a contact phone; a wife keeps her
surname, children take their father's; twins share surname, birth date, address and phone
and differ only in the given name (often one character); a few popular full names (张伟,
王芳, 李娜…) recur across the city; people move, and a department that has not caught up
holds the old address and phone; schools and hospitals often hold no ID number, and a child's
record carries a parent's phone. On top come the clerks' errors of ``subjects.generate``
(similar-character and homophone typos, traditional characters, full-width digits, swapped
day and month, a wrong digit, missing fields, an ID number with a wrong digit).

Everyone lives in the demo's one city (:mod:`govloop.demo.city`): addresses are drawn from
its districts and roads, ID numbers carry the district's region code, and a move is from an
earlier address elsewhere in the same city.

``household_population(n)`` returns the records (truth in ``person_id``, household in
``household_id``), columns as ``generate.department_records``.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from govloop.demo import city
from govloop.subjects import generate as gen
from govloop.subjects.identifiers import id_check_char

# full names that recur across a city (the most frequent names of the 2020s statistics)
POPULAR_NAMES = {
    "M": ("张伟", "王伟", "李伟", "刘伟", "王磊", "李强", "张磊", "刘洋", "王勇", "李军", "张勇"),
    "F": ("王芳", "李娜", "张敏", "李静", "王静", "张丽", "王丽", "李秀英", "王秀英", "张静"),
}
POPULAR_SHARE = 0.04
# departments, the share of their records without an ID number, and who they hold
DEPARTMENT_MISSING_ID = {
    "公安": 0.02,
    "社保": 0.06,
    "民政": 0.25,
    "卫健": 0.45,
    "教育": 0.55,
}
ADULT_DEPARTMENTS = ("公安", "社保", "民政", "卫健")
CHILD_DEPARTMENTS = ("公安", "教育", "卫健")
# household sizes 1..5
SIZE_SHARES = (0.22, 0.30, 0.26, 0.15, 0.07)
TWIN_SHARE = 0.04  # of households with children
MOVED_SHARE = 0.10


class _Person:
    __slots__ = ("birth", "name", "phone", "role", "sex", "surname")

    def __init__(self, sex: str, surname: str, name: str, birth: date, phone: str, role: str):
        self.sex = sex
        self.surname = surname
        self.name = name
        self.birth = birth
        self.phone = phone
        self.role = role


def _surname(rng: np.random.Generator) -> str:
    weights = np.asarray([w for _, w in gen.SURNAMES])
    return gen.SURNAMES[int(rng.choice(len(weights), p=weights / weights.sum()))][0]


def _given(rng: np.random.Generator, sex: str, *, first: str | None = None) -> str:
    chars = gen.MALE_CHARS if sex == "M" else gen.FEMALE_CHARS
    one = first or chars[int(rng.integers(0, len(chars)))]
    if first is None and rng.random() < 0.2:
        return one  # a one-character given name
    second = chars[int(rng.integers(0, len(chars)))]
    while first is not None and second == first:
        second = chars[int(rng.integers(0, len(chars)))]
    return one + second


def _name(rng: np.random.Generator, sex: str, surname: str) -> str:
    if rng.random() < POPULAR_SHARE:
        pool = POPULAR_NAMES[sex]
        return str(pool[int(rng.integers(0, len(pool)))])
    return surname + _given(rng, sex)


def _birth(rng: np.random.Generator, start: date, end: date) -> date:
    return start + timedelta(days=int(rng.integers(0, max(1, (end - start).days))))


def _phone(rng: np.random.Generator) -> str:
    return str(gen._phones(rng, 1)[0])


_DISTRICT_SHARES = np.asarray(city.WEIGHTS, dtype=float) / sum(city.WEIGHTS)


def _district(rng: np.random.Generator) -> int:
    return int(rng.choice(len(city.DISTRICTS), p=_DISTRICT_SHARES))


def _pick(rng: np.random.Generator, pool: tuple[str, ...] | list[str]) -> str:
    return str(pool[int(rng.integers(0, len(pool)))])


def _address(rng: np.random.Generator, district: int) -> str:
    """'澜江市明湖区湖滨路12号阳光花园3号楼2单元501室', in the layout of ``generate``."""
    d = city.DISTRICTS[district]
    compound = _pick(rng, gen.COMPOUNDS) + _pick(rng, gen.COMPOUND_KINDS)
    building = int(rng.integers(1, 30))
    unit = int(rng.integers(1, 6))
    room = int(rng.integers(1, 33)) * 100 + int(rng.integers(1, 5))
    rest = f"{compound}{building}号楼{unit}单元{room}室"
    return city.address(d, _pick(rng, d.roads), int(rng.integers(1, 400)), rest)


def _former_address(rng: np.random.Generator) -> str:
    """Where someone who moved lived before: elsewhere in the same city."""
    return _address(rng, _district(rng))


def _shorten(address: str) -> str:
    """The same address as a clerk writes it: without the city, 栋 for 号楼."""
    return address.removeprefix(city.CITY).replace("号楼", "栋")


def _household(rng: np.random.Generator, size: int) -> list[_Person]:
    head_sex = "M" if rng.random() < 0.7 else "F"
    head_surname = _surname(rng)
    head_birth = _birth(rng, date(1950, 1, 1), date(1998, 12, 31))
    head = _Person(
        head_sex,
        head_surname,
        _name(rng, head_sex, head_surname),
        head_birth,
        _phone(rng),
        "head",
    )
    people = [head]
    if size == 1:
        return people
    # a spouse: the other sex, a few years apart, her (or his) own surname
    spouse_sex = "F" if head_sex == "M" else "M"
    spouse_surname = _surname(rng)
    spouse_birth = head_birth + timedelta(days=int(rng.integers(-5 * 365, 5 * 365)))
    people.append(
        _Person(
            spouse_sex,
            spouse_surname,
            _name(rng, spouse_sex, spouse_surname),
            spouse_birth,
            _phone(rng),
            "spouse",
        )
    )
    father = head if head_sex == "M" else people[1]
    mother = people[1] if head_sex == "M" else head
    children = size - 2
    if children > 0 and rng.random() < 0.2 and size >= 3:
        # an elderly parent of the father's lives with them, instead of one child
        children -= 1
        grand_birth = father.birth - timedelta(days=int(rng.integers(22 * 365, 34 * 365)))
        elder_sex = "M" if rng.random() < 0.4 else "F"
        # a grandfather shares the father's surname; a grandmother keeps her own
        elder_surname = father.surname if elder_sex == "M" else _surname(rng)
        people.append(
            _Person(
                elder_sex,
                elder_surname,
                elder_surname + _given(rng, elder_sex),
                grand_birth,
                father.phone,  # the family's contact number
                "elder",
            )
        )
    latest = max(date(2024, 12, 31), mother.birth)
    twins = children >= 2 and rng.random() < TWIN_SHARE * 4
    born = 0
    while born < children:
        birth = _birth(
            rng,
            mother.birth + timedelta(days=22 * 365),
            min(latest, mother.birth + timedelta(days=40 * 365)),
        )
        if twins and born == 0:
            # twins: same surname, birth date, address and contact phone; given names often
            # share their first character
            sex_a = "M" if rng.random() < 0.5 else "F"
            sex_b = sex_a if rng.random() < 0.6 else ("F" if sex_a == "M" else "M")
            pool = gen.MALE_CHARS if sex_a == "M" else gen.FEMALE_CHARS
            first = pool[int(rng.integers(0, len(pool)))] if rng.random() < 0.7 else None
            name_a = father.surname + _given(rng, sex_a, first=first)
            name_b = father.surname + _given(rng, sex_b, first=first)
            while name_b == name_a:
                name_b = father.surname + _given(rng, sex_b, first=first)
            people.append(_Person(sex_a, father.surname, name_a, birth, mother.phone, "child"))
            people.append(_Person(sex_b, father.surname, name_b, birth, mother.phone, "child"))
            born += 2
            continue
        sex = "M" if rng.random() < 0.5 else "F"
        people.append(
            _Person(
                sex,
                father.surname,
                father.surname + _given(rng, sex),
                birth,
                mother.phone if rng.random() < 0.7 else father.phone,
                "child",
            )
        )
        born += 1
    return people[:size] if len(people) > size else people


def household_persons(n_persons: int, *, seed: int = 5) -> pd.DataFrame:
    """``n_persons`` (about) people in households, one row each, with their true attributes,
    the household's address and a former address and phone for those who moved."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    household = 0
    seq = 0
    while len(rows) < n_persons:
        size = int(rng.choice(5, p=SIZE_SHARES)) + 1
        people = _household(rng, size)
        region = _district(rng)
        address = _address(rng, region)
        shares_phone = rng.random() < 0.35  # the whole family gives the head's number
        for p in people:
            if len(rows) >= n_persons:
                break
            code = city.DISTRICTS[region].code
            sex_digit = int(rng.integers(0, 5)) * 2 + (1 if p.sex == "M" else 0)
            seq = (seq + 1) % 100
            first17 = f"{code}{p.birth:%Y%m%d}{seq:02d}{sex_digit}"
            moved = rng.random() < MOVED_SHARE
            rows.append(
                {
                    "person_id": len(rows),
                    "household_id": household,
                    "role": p.role,
                    "name": p.name,
                    "birth_date": p.birth.isoformat(),
                    "sex": p.sex,
                    "id_number": first17 + id_check_char(first17),
                    "phone": people[0].phone if shares_phone else p.phone,
                    "address": address,
                    "old_address": _former_address(rng) if moved else None,
                    "old_phone": _phone(rng) if moved else None,
                }
            )
        household += 1
    return pd.DataFrame(rows)


def household_records(
    persons: pd.DataFrame, *, seed: int = 6, mean_records: float = 2.5
) -> pd.DataFrame:
    """The records departments hold of these people (1–4 each; children at school and the
    hospital), with each department's gaps and the clerks' errors."""
    rng = np.random.default_rng(seed)
    out: list[dict[str, object]] = []
    for person in persons.itertuples(index=False):
        child = person.role == "child" and int(str(person.birth_date)[:4]) >= 2006
        departments = CHILD_DEPARTMENTS if child else ADULT_DEPARTMENTS
        count = 1 + min(
            len(departments) - 1,
            int(rng.binomial(len(departments) - 1, (mean_records - 1) / (len(departments) - 1))),
        )
        chosen = rng.permutation(len(departments))[:count]
        for index in chosen:
            source = departments[int(index)]
            stale = person.old_address is not None and rng.random() < 0.5
            out.append(
                {
                    "source": source,
                    "name": person.name,
                    "birth_date": person.birth_date,
                    "sex": person.sex,
                    "phone": person.old_phone if stale else person.phone,
                    "address": person.old_address if stale else person.address,
                    "id_number": (
                        None if rng.random() < DEPARTMENT_MISSING_ID[source] else person.id_number
                    ),
                    "person_id": person.person_id,
                    "household_id": person.household_id,
                }
            )
    frame = pd.DataFrame(out)
    frame.insert(0, "record_key", [f"{s}-{i:07d}" for i, s in enumerate(frame["source"])])
    return _with_errors(frame, rng)


def _with_errors(rec: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The clerks' errors of ``generate.department_records`` (its rates), on these records.
    Missing IDs are the departments' own; phones and addresses already hold the moves."""
    rates = gen.ErrorRates()
    m = len(rec)

    def mask(p: float) -> np.ndarray:
        return rng.random(m) < p

    names = rec["name"].to_numpy(dtype=object).copy()
    typo = mask(rates.name_typo)
    names[typo] = [gen._typo(x, rng) for x in names[typo]]
    spaced = mask(rates.name_spaces)
    names[spaced] = [" ".join(x) for x in names[spaced]]
    trad = mask(rates.traditional)
    names[trad] = gen._to_traditional(names[trad])
    birth = rec["birth_date"].to_numpy(dtype=object).copy()
    swap = mask(rates.day_month_swap)
    birth[swap] = [gen._swap_day_month(b) for b in birth[swap]]
    digit = mask(rates.birth_digit)
    birth[digit] = [gen._wrong_digit(b, rng, range(8, 10)) for b in birth[digit]]
    ids = rec["id_number"].to_numpy(dtype=object).copy()
    present = np.asarray([x is not None for x in ids])
    bad_id = mask(rates.id_digit) & present
    ids[bad_id] = [gen._wrong_digit(x, rng, range(0, 17)) for x in ids[bad_id]]
    phones = rec["phone"].to_numpy(dtype=object).copy()
    addresses = rec["address"].to_numpy(dtype=object).copy()
    short = mask(0.3)
    addresses[short] = [_shorten(a) for a in addresses[short]]
    addresses[trad] = gen._to_traditional(addresses[trad])
    wide = mask(rates.full_width)
    for column, present_only in ((phones, False), (ids, True), (birth, False), (addresses, False)):
        chosen = wide & np.asarray([x is not None for x in column]) if present_only else wide
        column[chosen] = [x.translate(gen._FULL_WIDTH) for x in column[chosen]]
    birth[mask(rates.missing_birth)] = None
    phones[mask(rates.missing_phone)] = None
    addresses[mask(rates.missing_address)] = None
    rec["name"] = names
    rec["birth_date"] = birth
    rec["id_number"] = ids
    rec["phone"] = phones
    rec["address"] = addresses
    sex = rec["sex"].to_numpy(dtype=object).copy()
    chinese_sex = mask(0.3)
    sex[chinese_sex] = np.where(sex[chinese_sex] == "M", "男", "女")
    rec["sex"] = sex
    return rec[
        [
            "record_key",
            "source",
            "name",
            "birth_date",
            "sex",
            "phone",
            "address",
            "id_number",
            "person_id",
            "household_id",
        ]
    ]


def household_population(
    n_persons: int, *, seed: int = 5, mean_records: float = 2.5
) -> pd.DataFrame:
    """Department records of ``n_persons`` people living in households."""
    return household_records(
        household_persons(n_persons, seed=seed), seed=seed + 1, mean_records=mean_records
    )


__all__ = ["household_persons", "household_population", "household_records"]
