// Per media host gauges (`host="in-process"`, or `host="worker-N"` for each media worker), read at scrape time from
// the hosts' load: how many calls each carries, how late its clock runs, how busy its event loop is, its heap.
import { Gauge, type Registry } from 'prom-client';
import type { HostLoad } from '../stream/index.js';

export function trackHosts(registry: Registry, loads: () => readonly HostLoad[]): void {
  const gauge = (name: string, help: string, value: (load: HostLoad) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['host'],
      registers: [registry],
      collect() {
        this.reset();
        for (const load of loads()) this.set({ host: load.name }, value(load));
      },
    });
  gauge('bridge_host_up', 'A media host takes calls (0 while a media worker restarts)', (l) => (l.up ? 1 : 0));
  gauge('bridge_host_legs', "Calls' streams on a media host", (l) => l.legs);
  gauge('bridge_host_rtp_ports_in_use', 'RTP ports a media host holds', (l) => l.rtpPortsInUse);
  gauge('bridge_host_clock_lag_seconds', "How late a media host's 20 ms clock fires (90th percentile over 2 s)", (l) => l.clockLagMs / 1000);
  gauge('bridge_host_event_loop_utilization', "A media host's event loop utilisation, 0-1", (l) => l.busy);
  gauge('bridge_host_rtp_packets_in', 'RTP packets a media host has received, ended calls included', (l) => l.packets.in);
  gauge('bridge_host_heap_used_bytes', "V8 heap in use by a media host's own isolate (a media worker's thread, or the main thread's in-process)", (l) => l.heapUsedBytes);
  gauge('bridge_host_rtp_packets_out', 'RTP packets a media host has sent, ended calls included', (l) => l.packets.out);
}
