/**
 * Loads now and every `intervalMs`, and draws what came back when it differs from what is
 * shown: redrawing an unchanged page would only take the keyboard focus away from its reader.
 * Returns the way to stop.
 */
export async function poll({ load, draw, fail, alive, intervalMs }) {
  let shown = '';
  const refresh = async () => {
    try {
      const value = await load();
      const fingerprint = JSON.stringify(value);
      if (!alive() || fingerprint === shown) return;
      shown = fingerprint;
      draw(value);
    } catch (e) {
      if (!alive()) return;
      // The next answer is drawn over the error, even when it is the one shown before.
      shown = '';
      fail(e);
    }
  };
  await refresh();
  const timer = setInterval(refresh, intervalMs);
  return () => clearInterval(timer);
}
