// What group commit and group load share: the requests of one turn of the event loop, handed
// over together once every caller of that turn has asked.
/**
 * Returns `ask(item)`: the items asked in one turn go to `run` after that turn (setImmediate),
 * in groups of at most `max`, in the order they were asked.
 */
export function perTurn<T>(max: number, run: (group: T[]) => void): (item: T) => void {
  let waiting: T[] = [];
  const flush = () => {
    const items = waiting;
    waiting = [];
    for (let i = 0; i < items.length; i += max) run(items.slice(i, i + max));
  };
  return (item) => {
    if (waiting.length === 0) setImmediate(flush);
    waiting.push(item);
  };
}
