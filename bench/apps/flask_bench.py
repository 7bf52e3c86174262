"""A small Flask JSON endpoint, as a real app would serve it."""
from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/api/items")
def items():
    return jsonify(items=[{"id": i, "name": "item %d" % i, "price": i * 1.5} for i in range(10)], total=10)
