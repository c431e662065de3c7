import { randomInt } from 'node:crypto';

/**
 * Pod addresses on one machine. Linux routes all of 127.0.0.0/8 to the loopback interface, so every pod gets
 * its own 127.a.b.c address and binds its fixed ports (coordinator 50051/8080, collective 50052) there without
 * colliding with the pods next to it: the address stands in for the pod's network namespace. A pod that
 * listens on 0.0.0.0 (all interfaces of its namespace) is started on its own address instead (see
 * container-config.ts). The /16 is picked at random so that a stale process of an earlier, crashed run
 * cannot hold a port the next run needs.
 */
export class PodAddressPool {
  private readonly prefix = `127.${randomInt(100, 250)}`;
  private next = 0;

  /** Never reused within a run: a peer still dialling a deleted pod's address must not reach its successor. */
  allocate(): string {
    const index = this.next;
    this.next += 1;
    if (index >= 250 * 256) throw new Error('the pod address pool is exhausted');
    // .0 and .255 of each /24 are avoided: they read as network and broadcast addresses to people.
    return `${this.prefix}.${Math.floor(index / 250)}.${(index % 250) + 2}`;
  }
}
