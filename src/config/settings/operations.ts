/** nodicorn's own operations surface: stopping behind a load balancer. */
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
      'On SIGTERM or SIGINT, the listeners keep accepting for this many seconds, so a load balancer or Kubernetes sees the pod leave before its connections are ' +
      'refused; every response from the signal on says "Connection: close". Then the listeners close and the ' +
      'requests in flight and queued get --graceful-timeout to finish. Behind Kubernetes, set it to a few seconds ' +
      'more than the readiness probe\'s period, and terminationGracePeriodSeconds above the delay plus ' +
      '--graceful-timeout.',
  }),
};
