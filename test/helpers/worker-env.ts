/** A reader of a worker process's required environment variables: a missing one is an error naming the worker and the variable. */
export function requiredEnv(worker: string): (name: string) => string {
  return (name) => {
    const value = process.env[name];
    if (value === undefined || value === "") throw new Error(`${worker}: ${name} is not set`);
    return value;
  };
}
