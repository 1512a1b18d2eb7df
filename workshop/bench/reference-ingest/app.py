"""The reference ingest service: POST /v1/orders validated by pydantic and handed to Kafka,
written the way the reference system (shared/reference, DESIGN.md §1) and most tutorials do it.

It is the baseline ingest-bench compares ingest-api against, so it keeps the reference's
shortcuts on purpose: money is a Python float, every message gets a random id, and the order is
answered 202 as soon as it is in kafka-python's buffer, before the broker has acknowledged it.
Do not "fix" them here; they are what the comparison is about.
"""

import json
import os
import uuid
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import List, Optional

from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from kafka import KafkaProducer
from pydantic import BaseModel

API_KEY = os.environ["REFERENCE_API_KEY"]
TOPIC = os.environ.get("KAFKA_TOPIC", "Order")
BOOTSTRAP_SERVERS = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")


class OrderItem(BaseModel):
    sku: str
    name: str
    quantity: int
    unit_price: float


class Order(BaseModel):
    order_id: str
    store_id: str
    terminal_id: Optional[str] = None
    customer_id: Optional[str] = None
    channel: str
    currency: str
    created_at: datetime
    items: List[OrderItem]
    discount: float = 0.0
    tax: float = 0.0
    total: float
    payment_method: Optional[str] = None


producer: Optional[KafkaProducer] = None


@asynccontextmanager
async def lifespan(_app: FastAPI):
    # One producer per worker process, made after uvicorn has started it.
    global producer
    producer = KafkaProducer(
        bootstrap_servers=BOOTSTRAP_SERVERS.split(","),
        # ingest-api's settings, where kafka-python 2.0.2 has them (it has no idempotent
        # producer).
        acks="all",
        compression_type="lz4",
        linger_ms=2,
        key_serializer=str.encode,
        value_serializer=lambda value: json.dumps(value).encode(),
    )
    yield
    producer.flush()
    producer.close()


app = FastAPI(title="reference ingest", lifespan=lifespan)
bearer = HTTPBearer(auto_error=False)


def require_api_key(
    credentials: Optional[HTTPAuthorizationCredentials] = Depends(bearer),
) -> None:
    if credentials is None or credentials.credentials != API_KEY:
        raise HTTPException(status_code=401, detail="invalid or missing API key")


@app.post("/v1/orders", status_code=202, dependencies=[Depends(require_api_key)])
async def create_order(order: Order):
    message = {
        "id": str(uuid.uuid4()),
        "ingested_at": datetime.now(timezone.utc).isoformat(),
        **order.model_dump(mode="json"),
    }
    # Fire and forget: the future is dropped, so a failed delivery is never seen by the client.
    producer.send(TOPIC, key=order.order_id, value=message)
    return {"order_id": order.order_id, "status": "accepted"}


@app.get("/health")
async def health():
    return {"status": "ok"}
