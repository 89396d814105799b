"""Kuaidi100 (快递100), the carrier-tracking service most Chinese shops use.

- Real-time query (实时查询): POST poll/query.do with `customer`, `param` (JSON) and
  `sign` = MD5(param + key + customer), upper-case hex.
- Subscription (订阅): POST poll with `schema=json` and `param` naming the callback URL and
  our salt; Kuaidi100 then pushes each change to the callback with `param` and
  `sign` = MD5(param + salt), upper-case hex, and expects a JSON answer
  {"result": true, "returnCode": "200", ...} (anything else: it pushes again later).
"""

import hashlib
import hmac
import json
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from orders.models import TrackingStage
from orders.tracking.base import TrackedEvent, TrackingError

QUERY_URL = "https://poll.kuaidi100.com/poll/query.do"
SUBSCRIBE_URL = "https://poll.kuaidi100.com/poll"
#: A query or subscription waits this long for an answer: a stuck call must not hold the
#: polling run past its minute.
TIMEOUT = 10
CHINA = timezone.get_fixed_timezone(8 * 60)

#: The shop's carrier codes (orders.models.CARRIERS) -> Kuaidi100's company codes.
COMPANIES = {
    "sf": "shunfeng",
    "ems": "ems",
    "zto": "zhongtong",
    "yto": "yuantong",
    "yunda": "yunda",
    "jd": "jd",
    "dhl": "dhl",
    "ups": "ups",
    "fedex": "fedex",
    "usps": "usps",
    "royalmail": "royalmail",
}

#: Kuaidi100's state codes (the parcel's current state) -> the shop's stages.
STATES = {
    "0": TrackingStage.IN_TRANSIT,  # 在途
    "1": TrackingStage.ACCEPTED,  # 揽收
    "2": TrackingStage.EXCEPTION,  # 疑难 (问题件)
    "3": TrackingStage.DELIVERED,  # 签收
    "4": TrackingStage.RETURNED,  # 退签
    "5": TrackingStage.OUT_FOR_DELIVERY,  # 派件
    "6": TrackingStage.RETURNED,  # 退回
    "7": TrackingStage.IN_TRANSIT,  # 转单
    "8": TrackingStage.IN_TRANSIT,  # 清关
    "10": TrackingStage.IN_TRANSIT,  # 待清关
    "11": TrackingStage.IN_TRANSIT,  # 清关中
    "12": TrackingStage.IN_TRANSIT,  # 已清关
    "13": TrackingStage.EXCEPTION,  # 清关异常
    "14": TrackingStage.EXCEPTION,  # 拒签
}
#: The same states as each scan names them (`status` of a scan with resultv2=1).
STATUS_WORDS = {
    "在途": TrackingStage.IN_TRANSIT,
    "揽收": TrackingStage.ACCEPTED,
    "疑难": TrackingStage.EXCEPTION,
    "签收": TrackingStage.DELIVERED,
    "退签": TrackingStage.RETURNED,
    "派件": TrackingStage.OUT_FOR_DELIVERY,
    "退回": TrackingStage.RETURNED,
    "转单": TrackingStage.IN_TRANSIT,
    "转投": TrackingStage.IN_TRANSIT,
    "清关": TrackingStage.IN_TRANSIT,
    "待清关": TrackingStage.IN_TRANSIT,
    "清关中": TrackingStage.IN_TRANSIT,
    "已清关": TrackingStage.IN_TRANSIT,
    "清关异常": TrackingStage.EXCEPTION,
    "拒签": TrackingStage.EXCEPTION,
}


def md5_sign(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest().upper()


def push_is_genuine(*, param: str, sign: str) -> bool:
    """A push is Kuaidi100's when it is signed with our salt (compared in constant time)."""
    salt = settings.KUAIDI100_SALT
    return bool(salt and sign) and hmac.compare_digest(md5_sign(param + salt), sign.upper())


def callback_url() -> str:
    base = settings.TRACKING_CALLBACK_BASE_URL or settings.SHOP_URL
    return base.rstrip("/") + reverse("orders:kuaidi100-push")


def parse_result(result: dict) -> tuple[str, str, list[TrackedEvent]]:
    """(company, number, scans) of a query's answer or a push's `lastResult`. Raises
    TrackingError for an answer that is not a list of scans."""
    scans = result.get("data")
    if not isinstance(scans, list):
        raise TrackingError(str(result.get("message") or "no data")[:200])
    current = STATES.get(str(result.get("state", "")), TrackingStage.IN_TRANSIT)
    events = []
    # Newest first: the newest scan takes the parcel's state when it names none we know.
    for index, scan in enumerate(scans):
        if not isinstance(scan, dict):
            continue
        occurred_at = _scan_time(scan)
        description = str(scan.get("context") or "").strip()
        if occurred_at is None or not description:
            continue
        default = current if index == 0 else TrackingStage.IN_TRANSIT
        events.append(
            TrackedEvent(
                occurred_at=occurred_at,
                description=description[:500],
                location=str(scan.get("areaName") or scan.get("location") or "")[:200],
                stage=STATUS_WORDS.get(str(scan.get("status") or ""), default),
            )
        )
    return str(result.get("com", "")), str(result.get("nu", "")), events


def parse_push(param: str) -> tuple[str, str, str, list[TrackedEvent]]:
    """(polling status, company, number, scans) of a verified push's `param`: status
    "polling" while followed, "shutdown" once finished, "abort" when Kuaidi100 gave up
    (e.g. no scan for days), after which we poll instead."""
    try:
        push = json.loads(param)
    except ValueError as error:
        raise TrackingError("not JSON") from error
    if not isinstance(push, dict) or not isinstance(push.get("lastResult"), dict):
        raise TrackingError("no lastResult")
    company, number, events = parse_result(push["lastResult"])
    return str(push.get("status", "")), company, number, events


def _scan_time(scan: dict) -> datetime | None:
    """Kuaidi100 writes local time in China ("2024-05-01 12:30:00", UTC+8)."""
    try:
        naive = datetime.strptime(str(scan.get("time") or scan.get("ftime")), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return naive.replace(tzinfo=CHINA)


class Kuaidi100:
    def __init__(self):
        self.poll_every = timedelta(minutes=settings.TRACKING_POLL_MINUTES)
        self.per_minute = settings.KUAIDI100_QUERIES_PER_MINUTE

    def query(self, shipment, *, now: datetime) -> list[TrackedEvent]:
        param = json.dumps(
            {
                "com": COMPANIES[shipment.carrier],
                "num": shipment.tracking_number,
                "phone": _phone(shipment),
                "resultv2": "1",
                "order": "desc",
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        customer, key = settings.KUAIDI100_CUSTOMER, settings.KUAIDI100_KEY
        sign = md5_sign(param + key + customer)
        answer = _post(QUERY_URL, {"customer": customer, "param": param, "sign": sign})
        return parse_result(answer)[2]

    def subscribe(self, shipment) -> bool:
        """Subscribe when a salt is set (an unsigned push could be anyone's)."""
        if not settings.KUAIDI100_SALT:
            return False
        param = json.dumps(
            {
                "company": COMPANIES[shipment.carrier],
                "number": shipment.tracking_number,
                "key": settings.KUAIDI100_KEY,
                "parameters": {
                    "callbackurl": callback_url(),
                    "salt": settings.KUAIDI100_SALT,
                    "resultv2": "1",
                    "phone": _phone(shipment),
                },
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        answer = _post(SUBSCRIBE_URL, {"schema": "json", "param": param})
        # 501: subscribed already, and still followed.
        if answer.get("result") is True or str(answer.get("returnCode")) in ("200", "501"):
            return True
        raise TrackingError(str(answer.get("message") or answer.get("returnCode"))[:200])


def _phone(shipment) -> str:
    """SF Express answers only with the recipient's phone number (Kuaidi100 asks for it)."""
    return shipment.order.ship_phone or ""


def _post(url: str, data: dict) -> dict:
    try:
        response = requests.post(url, data=data, timeout=TIMEOUT)
        response.raise_for_status()
        answer = response.json()
    except (requests.RequestException, ValueError) as error:
        raise TrackingError(str(error)[:200]) from error
    if not isinstance(answer, dict):
        raise TrackingError("unexpected answer")
    return answer
