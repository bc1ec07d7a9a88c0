"""What the broker holds: the depth of each convsync queue, for /metrics."""

from __future__ import annotations

from amqp.exceptions import ChannelError
from celery import Celery


def queue_depths(app: Celery) -> dict[str, int]:
    """Messages waiting in each of convsync's queues (not those workers hold prefetched).

    A passive declare asks the broker without creating anything, on Redis and RabbitMQ
    alike; each on its own channel, since a refused declare closes its channel on AMQP.
    """
    depths: dict[str, int] = {}
    with app.connection_for_read() as connection:
        for queue in app.conf.task_queues:
            channel = connection.channel()
            try:
                declared = queue.bind(channel).queue_declare(passive=True)
                depths[queue.name] = int(declared.message_count)
            except ChannelError:
                # 404: Redis keeps no empty list; RabbitMQ has not declared the queue yet.
                depths[queue.name] = 0
            finally:
                channel.close()
    return depths
