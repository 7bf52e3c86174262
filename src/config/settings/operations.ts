/** nodicorn's own operations surface: stopping behind a load balancer, metrics and health. */
import { one } from '../define';
import * as P from '../parsers';

export const OPERATIONS = {
  shutdownDelay: one<number>({
    section: 'Server Mechanics',
    gunicorn: 'nodicorn',
    flags: ['--shutdown-delay'],
    metavar: 'SECONDS',
    file: 'shutdown_delay',
    parser: P.seconds,
    default: 0,
    doc:
      'On SIGTERM or SIGINT, /readyz (see --metrics-bind) answers 503 at once, and the listeners keep accepting ' +
      'for this many seconds, so a load balancer or Kubernetes sees the pod leave before its connections are ' +
      'refused; every response from the signal on says "Connection: close". Then the listeners close and the ' +
      'requests in flight and queued get --graceful-timeout to finish. Behind Kubernetes, set it to a few seconds ' +
      'more than the readiness probe\'s period, and terminationGracePeriodSeconds above the delay plus ' +
      '--graceful-timeout.',
  }),
  metricsBind: one<string | null>({
    section: 'Server Mechanics',
    gunicorn: 'nodicorn',
    flags: ['--metrics-bind'],
    metavar: 'HOST:PORT',
    file: 'metrics_bind',
    nullable: true,
    parser: P.bind,
    default: null,
    doc:
      'A listener of its own, never one of --bind\'s, answering GET /metrics (Prometheus text format, or ' +
      'OpenMetrics when the scraper asks for it), GET /healthz (200 while the server runs) and GET /readyz ' +
      '(200 while it accepts work, 503 once it stops). With several front ends (--frontends) it is one listener ' +
      'in the master, for the whole server: each scrape asks every front end for its figures and sums them ' +
      '(a front end silent for 1 s is left out of that scrape, and nodicorn_frontends says so), /readyz is 200 ' +
      'only while every front end is ready, and the process_* figures come one series per Node process, ' +
      'labelled process="master" or "frontend-N". Off by default: it tells whoever reaches it about the ' +
      'server, so bind it to a private address.',
  }),
};
