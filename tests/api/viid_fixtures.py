"""GA/T 1400 request bodies as vendors' devices send them, rewritten as fixtures (ids, times and images are
filled in by the tests; every other field name and value style is the source's).

Sources (public examples found with the search tool):
- NON_MOTOR: the non-motor vehicle sample of a public Scala ingest job for a 视图库 (48-digit
  NonMotorVehicleID, InfoKind, SourceID, string-coded HasPlate/PlateClass/PlateColor, SubImageInfoObject
  with ImageID, EventSort, StoragePath, Type "01", FileFormat "Jpeg", Width/Height as numbers).
- MOTOR_HIK: a Hikvision ("Model": "haikang") community platform's /VIID/MotorVehicles example
  (wzbwzt/study-go, test/police.md): 20-digit MotorVehicleID, an EMPTY DeviceID, StorageUrl1..5, PassTime,
  booleans for IsDecked/IsAltered/IsCovered, empty strings for unknown codes, SubImageInfoObject Type "02"
  with Width/Height as strings and Data in base64.
- FACE: the face sample of the same Scala job (Type "14" scene image by StoragePath only, "Data": null,
  nulls for unknown attributes).
- APES: the /VIID/APEs example of the same Hikvision platform (APEListObject/APEObject).
"""

from __future__ import annotations

import base64
import copy
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

SH = ZoneInfo("Asia/Shanghai")

NON_MOTOR: dict[str, Any] = {"NonMotorVehicleListObject": {"NonMotorVehicleObject": [{
    "NonMotorVehicleID": "", "InfoKind": 1, "SourceID": "", "DeviceID": "",
    "LeftTopX": 4, "LeftTopY": 2, "RightBtmX": 21, "RightBtmY": 23,
    "HasPlate": "0", "PlateClass": "99", "PlateColor": "2", "PlateNo": "", "PlateNoAttach": "",
    "PlateDescribe": "", "IsDecked": "0", "IsAltered": "0", "IsCovered": "0", "DrivingStatusCode": "5",
    "UsingPropertiesCode": "152", "VehicleBrand": "2", "VehicleType": "1", "VehicleLength": 12,
    "VehicleWidth": 45, "VehicleHeight": 45, "VehicleColor": "2", "VehicleHood": "44", "VehicleTrunk": "55",
    "VehicleWheel": "33", "WheelPrintedPattern": "2", "VehicleWindow": "013", "VehicleRoof": "1",
    "VehicleDoor": "1", "SideOfVehicle": "1", "CarOfVehicle": "1", "RearviewMirror": "1",
    "VehicleChassis": "1", "VehicleShielding": "1", "FilmColor": "1",
    "SubImageList": {"SubImageInfoObject": []},
}]}}

MOTOR_HIK: dict[str, Any] = {"MotorVehicleListObject": {"MotorVehicleObject": [{
    "MotorVehicleID": "", "InfoKind": 1, "SourceID": "", "TollgateID": "", "DeviceID": "",
    "StorageUrl1": "http://172.16.0.50:8082/d/1000037$1$0$0/20200701/16/4151-58659-0.jpg",
    "StorageUrl2": "", "StorageUrl3": "", "StorageUrl4": "", "StorageUrl5": "",
    "LeftTopX": 0, "LeftTopY": 0, "RightBtmX": 0, "RightBtmY": 0, "MarkTime": "", "AppearTime": "",
    "DisappearTime": "", "LaneNo": "", "HasPlate": "1", "PlateClass": "", "PlateColor": "", "PlateNo": "",
    "PlateNoAttach": "", "PlateDescribe": "", "IsDecked": False, "IsAltered": False, "IsCovered": False,
    "Speed": "", "Direction": "", "VehicleClass": "", "VehicleBrand": "", "VehicleColor": "",
    "PassTime": "", "NameOfPassedRoad": "", "IsSuspicious": 0, "Sunvisor": 0, "SafetyBelt": 0, "Calling": 0,
    "PlateReliability": "", "PlateCharReliability": "", "BrandReliability": "",
    "SubImageList": {"SubImageInfoObject": []}, "InOut": "in",
}]}}

FACE: dict[str, Any] = {"FaceListObject": {"FaceObject": [{
    "FaceID": "", "InfoKind": 1, "SourceID": "", "DeviceID": "", "LeftTopX": 347, "LeftTopY": 429,
    "RightBtmX": 541, "RightBtmY": 618, "LocationMarkTime": None, "FaceAppearTime": None,
    "FaceDisAppearTime": None, "IDType": None, "IDNumber": None, "Name": None, "GenderCode": "1",
    "AgeUpLimit": 32, "AgeLowerLimit": 32, "GlassStyle": "99", "IsDriver": 2, "IsForeigner": 2,
    "IsSuspectedTerrorist": 2, "IsCriminalInvolved": 2, "IsDetainees": 2, "IsVictim": 2,
    "IsSuspiciousPerson": 2,
    "SubImageList": {"SubImageInfoObject": []},
}]}}

APES: dict[str, Any] = {"APEListObject": {"APEObject": [{
    "ApeID": "", "Name": "3号楼电梯", "Model": "haikang", "IPAddr": "172.16.16.139", "IPV6Addr": "",
    "Port": 0, "Longitude": 0, "Latitude": 0, "PlaceCode": "", "Place": "3号楼电梯", "OrgCode": "",
    "MonitorDirection": "", "MonitorAreaDesc": "", "IsOnline": "1", "OwnerApsID": "", "UserId": "",
    "Password": "", "FunctionType": "1", "PositionType": "", "CapDirection": 3, "PositionDetailType": 1,
}]}}


def stamp(t: datetime) -> str:
    return t.astimezone(SH).strftime("%Y%m%d%H%M%S")


def object_id(device: str, t: datetime, serial: int, kind: str = "02") -> str:
    """The standard's 48-digit object id: source device (20) + 2 + time (14) + 5 + type (2) + 5."""
    return f"{device}02{stamp(t)}{serial:05d}{kind}{serial:05d}"


def non_motor(device: str, t: datetime, images: list[bytes], serial: int = 1) -> dict[str, Any]:
    body = copy.deepcopy(NON_MOTOR)
    obj = body["NonMotorVehicleListObject"]["NonMotorVehicleObject"][0]
    oid = object_id(device, t, serial, "12")
    obj.update(NonMotorVehicleID=oid, SourceID=oid[:41], DeviceID=device)
    obj["SubImageList"]["SubImageInfoObject"] = [
        {"ImageID": f"{oid[:41]}{i:02d}", "EventSort": 4, "DeviceID": device,
         "StoragePath": f"http://172.16.0.50:9080/img/{oid}_{i}.jpg", "Type": "01" if i == 0 else "12",
         "FileFormat": "Jpeg", "ShotTime": stamp(t), "Width": 437, "Height": 350,
         "Data": base64.b64encode(img).decode()} for i, img in enumerate(images)]
    return body


def motor_hik(t: datetime, plate: str, image: bytes, serial: int, device: str) -> dict[str, Any]:
    """As the Hikvision platform sends it: DeviceID empty, the device only in the image's DeviceID."""
    body = copy.deepcopy(MOTOR_HIK)
    obj = body["MotorVehicleListObject"]["MotorVehicleObject"][0]
    obj.update(MotorVehicleID=f"{object_id(device, t, serial, '02')}", PlateNo=plate, PassTime=stamp(t))
    obj["SubImageList"]["SubImageInfoObject"] = [
        {"Type": "02", "OriginImageID": "", "DeviceID": device, "ImageID": "", "EventSort": "",
         "ShotTime": "", "Height": "", "Data": base64.b64encode(image).decode(), "ImageSource": "",
         "FileFormat": "", "Width": ""}]
    return body


def face(device: str, t: datetime, serial: int = 1) -> dict[str, Any]:
    body = copy.deepcopy(FACE)
    obj = body["FaceListObject"]["FaceObject"][0]
    oid = object_id(device, t, serial, "06")
    obj.update(FaceID=oid, SourceID=oid[:41], DeviceID=device)
    obj["SubImageList"]["SubImageInfoObject"] = [
        {"ImageID": oid[:41], "EventSort": "10", "DeviceID": device,
         "StoragePath": f"http://122.224.82.76:9000/face/{oid}.png", "Type": "14", "FileFormat": "Jpeg",
         "ShotTime": stamp(t), "Width": "2688", "Height": "1584", "Data": None}]
    return body


def apes(ape_id: str) -> dict[str, Any]:
    body = copy.deepcopy(APES)
    body["APEListObject"]["APEObject"][0]["ApeID"] = ape_id
    return body
