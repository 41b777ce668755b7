"""Reference data: the agencies of PROCEDURES.md with the six districts (app/adapters/store.py
seeds them into the case store)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

DISTRICTS: dict[str, tuple[str, str]] = {
    "xingqing": ("兴庆区", "Xingqing District"),
    "jinfeng": ("金凤区", "Jinfeng District"),
    "xixia": ("西夏区", "Xixia District"),
    "helan": ("贺兰县", "Helan County"),
    "yongning": ("永宁县", "Yongning County"),
    "lingwu": ("灵武市", "Lingwu City"),
}

MUNICIPAL: dict[str, tuple[str, str]] = {
    "mca": ("市民政局", "Civil Affairs Bureau"),
    "center": ("市未成年人社会保护中心", "Minor Protection Center"),
    "psb": ("市公安局", "Public Security Bureau"),
    "edu": ("市教育局", "Education Bureau"),
    "health": ("市卫计委", "Health and Family Planning Commission"),
    "hrss": ("市人社局", "Human Resources and Social Security Bureau"),
    "justice": ("市司法局", "Justice Bureau"),
    "court": ("市法院", "Municipal Court"),
    "procuratorate": ("市检察院", "Municipal Procuratorate"),
    "finance": ("市财政局", "Finance Bureau"),
    "dpf": ("市残联", "Disabled Persons' Federation"),
    "women": ("市妇联", "Women's Federation"),
    "youth": ("团市委", "Communist Youth League"),
    "unions": ("市总工会", "Federation of Trade Unions"),
    "charity": ("市慈善总会", "Charity Federation"),
    "tax": ("税务局", "Tax Bureau"),
    "market": ("市场监督管理局", "Market Regulation Administration"),
}

# Two pilot street offices or townships per district (四(一)), each with one community workstation.
STREETS: dict[str, list[tuple[str, str, str]]] = {
    "xingqing": [("fenghuang", "凤凰北街街道", "Fenghuang North St."),
                 ("zhongshan", "中山南街街道", "Zhongshan South St.")],
    "jinfeng": [("mancheng", "满城北街街道", "Mancheng North St."),
                ("huanghe", "黄河东路街道", "Huanghe East Rd.")],
    "xixia": [("wenchang", "文昌路街道", "Wenchang Rd."),
              ("shuofang", "朔方路街道", "Shuofang Rd.")],
    "helan": [("xigang", "习岗镇", "Xigang Town"), ("jingui", "金贵镇", "Jingui Town")],
    "yongning": [("yanghe", "杨和镇", "Yanghe Town"), ("wangyuan", "望远镇", "Wangyuan Town")],
    "lingwu": [("chengqu", "城区街道", "Chengqu St."), ("dongta", "东塔镇", "Dongta Town")],
}

HOSPITALS: list[tuple[str, str, str]] = [
    ("first-people", "银川市第一人民医院", "Yinchuan First People's Hospital"),
    ("women-children", "银川市妇幼保健院", "Yinchuan Maternal and Child Hospital"),
]


@dataclass(frozen=True)
class Agency:
    """One agency of the plan, as reference data (the case store's `models.Agency` row is made
    from it; operators add webhook addresses there)."""

    code: str
    name_zh: str
    name_en: str
    level: str  # office|municipal|institution|hospital|district|street|community
    parent_code: str | None = None
    district: str | None = None
    bureau: str | None = None

    def fields(self) -> dict[str, Any]:
        return asdict(self)


def reference_agencies() -> list[Agency]:
    """Every agency, parents before children."""
    rows = [Agency(code="office", name_zh="领导小组办公室", name_en="Leading Group Office",
                   level="office")]
    rows += [Agency(code=c, name_zh=zh, name_en=en, level="municipal")
             for c, (zh, en) in MUNICIPAL.items()]
    rows.append(Agency(code="welfare", name_zh="儿童福利机构", name_en="Child Welfare Institution",
                       level="institution", parent_code="mca"))
    rows += [Agency(code=f"hospital:{c}", name_zh=zh, name_en=en, level="hospital",
                    parent_code="health") for c, zh, en in HOSPITALS]
    for d, (zh, en) in DISTRICTS.items():
        rows.append(Agency(code=f"district:{d}", name_zh=zh, name_en=en, level="district",
                           district=d, bureau="mca"))
        for s, szh, sen in STREETS[d]:
            rows.append(Agency(code=f"street:{d}-{s}", name_zh=szh, name_en=sen, level="street",
                               parent_code=f"district:{d}", district=d, bureau="mca"))
            rows.append(Agency(code=f"community:{d}-{s}", name_zh=f"{szh}社区工作站",
                               name_en=f"{sen} community workstation", level="community",
                               parent_code=f"street:{d}-{s}", district=d, bureau="mca"))
    return rows
