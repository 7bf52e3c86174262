/**
 * Imported first by the CLI, for its side effect: SIGUSR1 stops being able to open Node's
 * inspector before the rest of the CLI's modules load (see guardInspectorSignal). Not imported
 * by the library: an embedding app keeps Node's own SIGUSR1.
 */
import { guardInspectorSignal } from './signals';

guardInspectorSignal();
