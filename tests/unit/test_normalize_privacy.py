import pytest

from bot.privacy import mask
from knowledge.catalogue_import import county_department
from knowledge.normalize import normalize


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("身份證丟了要帶什麼？", "身份证丢了要带什么"),
        ("请问，开个体户要跑几次嘛", "开个体户要跑几次"),
        ("娃娃上户口咋个办", "孩子上户口怎么办"),
        ("ＡＢＣ　１２３", "abc123"),
        ("身分证掉了", "身份证掉了"),
        ("   ", ""),
    ],
)
def test_normalize(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("我的身份证号是511126199001011234", "我的身份证号是511126********1234"),
        ("电话13812345678", "电话138****5678"),
        ("电话138 1234 5678", "电话138 **** 5678"),  # typed in groups
        ("139-1234-5678", "139-****-5678"),
        ("座机0833-5123456", "座机0833-***3456"),
        ("我叫张三丰", "我叫张**"),
    ],
)
def test_mask(raw, expected):
    assert mask(raw) == expected


@pytest.mark.parametrize(
    "department, county",
    [("区人社局", "夹江县人社局"), ("区公安分局", "夹江县公安局"), ("广安区税务局", "国家税务总局夹江县税务局")],
)
def test_county_department(department, county):
    assert county_department(department) == county
