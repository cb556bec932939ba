"""apache-libcloud's Vultr v2 driver against the stand-in: a client nobody here wrote.

Usage: python libcloud_check.py HOST PORT API_KEY
The stand-in must cap pages at 1 item, so listing two instances takes two pages. Prints
`destroyed <id>` for each instance it made.
"""
import sys
import time

from libcloud.compute.drivers.vultr import VultrNodeDriverV2
from libcloud.common.vultr import VultrException
from libcloud.compute.types import NodeState


def main():
    host, port, key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    driver = VultrNodeDriverV2(key, secure=False, host=host, port=port)

    try:
        VultrNodeDriverV2("wrong-key", secure=False, host=host, port=port).list_nodes()
        sys.exit("a wrong key was accepted")
    except VultrException as e:
        assert e.code == 401 and "Invalid API token" in str(e.message), e

    size = next(s for s in driver.list_sizes() if s.id == "vc2-1c-1gb")
    image = next(i for i in driver.list_images() if i.id == "2136")
    location = next(l for l in driver.list_locations() if l.id == "ewr")

    made = [
        driver.create_node(f"libcloud-{n}", size, location, image=image, ex_userdata="#cloud-config\n{}\n")
        for n in range(2)
    ]
    assert all(node.state == NodeState.PENDING for node in made), [n.state for n in made]

    # Listing follows meta.links.next across the one-item pages.
    deadline = time.time() + 120
    while True:
        nodes = {node.id: node for node in driver.list_nodes()}
        mine = [nodes.get(node.id) for node in made]
        if all(n is not None and n.state == NodeState.RUNNING and n.public_ips != ["0.0.0.0"] for n in mine):
            break
        assert time.time() < deadline, [(n.id, n.state, n.public_ips) for n in mine if n]
        time.sleep(0.5)
    assert len(nodes) == 2, nodes
    for node in mine:
        print(f"listed {node.id} {node.name} {node.public_ips[0]} {node.extra['server_status']}")

    for node in made:
        assert driver.destroy_node(node)
        print(f"destroyed {node.id}")
    assert driver.list_nodes() == []


if __name__ == "__main__":
    main()
