"""ServerApp: FedAvg over every node for `num-server-rounds` rounds, each round a train and an evaluate
round trip. Appends one JSON line per event to `events-file` (wall-clock times), which the runner reads."""

import json
import time

from flwr.app import ArrayRecord, Context, MetricRecord
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg

from flowerbench import task

app = ServerApp()
NODES = 10


class TimedFedAvg(FedAvg):
    """FedAvg that logs when each phase starts and ends, and the unweighted mean of the clients' accuracies."""

    def __init__(self, events_file: str, **kw):
        super().__init__(**kw)
        self.events_file = events_file

    def event(self, name: str, rnd: int, **extra) -> None:
        if self.events_file:
            with open(self.events_file, "a") as f:
                f.write(json.dumps({"event": name, "round": rnd, "t": time.time(), **extra}) + "\n")

    def configure_train(self, server_round, arrays, config, grid):
        messages = super().configure_train(server_round, arrays, config, grid)
        self.event("train_sent", server_round)  # strategy.start sends them right after this returns
        return messages

    def aggregate_train(self, server_round, replies):
        replies = list(replies)
        result = super().aggregate_train(server_round, replies)
        self.event("train_aggregated", server_round, replies=len(replies))
        return result

    def aggregate_evaluate(self, server_round, replies):
        replies = [r for r in replies if not r.has_error()]
        accuracies = [float(r.content["metrics"]["accuracy"]) for r in replies]
        mean = sum(accuracies) / len(accuracies) if accuracies else None
        self.event("evaluated", server_round, devices=len(replies), accuracy=mean, accuracies=accuracies)
        return MetricRecord({"accuracy": mean}) if mean is not None else None


@app.main()
def main(grid: Grid, context: Context) -> None:
    cfg = context.run_config
    strategy = TimedFedAvg(str(cfg["events-file"]), min_train_nodes=NODES, min_evaluate_nodes=NODES,
                           min_available_nodes=NODES)
    strategy.event("start", 0)
    strategy.start(grid=grid, initial_arrays=ArrayRecord(task.initial_parameters(int(cfg["init-seed"]))),
                   num_rounds=int(cfg["num-server-rounds"]))
    strategy.event("done", int(cfg["num-server-rounds"]))
