using Gvtd.Sysfs;

namespace Gvtd.Planning;

/// <summary>
/// What a parent can still give, as one plan spends it: creates take, planned removals give back,
/// so two declarations cannot both take the last instance, and a removal makes room for a create in
/// the same pass.
///
/// A parent whose types all describe themselves as GVT-g's carves every vGPU out of one pool of
/// graphics memory and fences (gvt/vgpu.c), so creating one type lowers every type's
/// available_instances. sysfs does not show the pool itself; gvtd assumes the least that the
/// counts prove is free: for each resource, the largest available_instances × size over the types.
/// That never plans past the pool; at worst it waits for the kernel's own count after a pass.
/// Other drivers' resource rules are not known to gvtd: there each type counts on its own, and the
/// kernel's refusal (ENOSPC) is reported as it comes.
/// </summary>
internal sealed class Capacity
{
    private readonly Dictionary<string, Pool?> _pools = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Parent, string Type), int> _taken = new();

    private sealed class Pool(long low, long high, long fences)
    {
        public long Low = low, High = high, Fences = fences;
        public override string ToString() => $"{Low} MiB low and {High} MiB high graphics memory and {Fences} fences";
    }

    /// <summary>Takes one instance of <paramref name="type"/>; null if it fits, else why not.</summary>
    public string? TryTake(MdevParent parent, MdevType type)
    {
        if (PoolOf(parent) is { } pool && type.Gvt is { } size)
        {
            // The pool decides: available_instances of each type already follows from it, and
            // would miss what a removal in this plan frees for another type.
            if (pool.Low < size.LowGmMiB || pool.High < size.HighGmMiB || pool.Fences < size.Fence)
                return $"no capacity left for {type.Id} on {parent.Name}: its types share one GVT-g pool, of which gvtd can count on {pool} "
                    + "after the vGPUs planned before it; remove a vGPU or choose a smaller type";
        }
        else
        {
            var taken = _taken.GetValueOrDefault((parent.Name, type.Id));
            if (type.AvailableInstances - taken <= 0)
                return $"no capacity left for {type.Id} on {parent.Name} (available_instances is {type.AvailableInstances}{(taken > 0 ? $", and this plan already uses {taken}" : "")}); remove a vGPU or choose a smaller type";
        }
        Adjust(parent, type.Id, +1);
        return null;
    }

    /// <summary>Gives back what a planned removal frees.</summary>
    public void GiveBack(MdevParent parent, string typeId) => Adjust(parent, typeId, -1);

    /// <summary>Takes back what <see cref="GiveBack"/> returned, when the removal is not planned after all.</summary>
    public void Retake(MdevParent parent, string typeId) => Adjust(parent, typeId, +1);

    private void Adjust(MdevParent parent, string typeId, int instances)
    {
        var key = (parent.Name, typeId);
        _taken[key] = _taken.GetValueOrDefault(key) + instances;
        if (PoolOf(parent) is { } pool && parent.FindType(typeId)?.Gvt is { } size)
        {
            pool.Low -= instances * size.LowGmMiB;
            pool.High -= instances * size.HighGmMiB;
            pool.Fences -= instances * size.Fence;
        }
    }

    private Pool? PoolOf(MdevParent parent)
    {
        if (_pools.TryGetValue(parent.Name, out var pool)) return pool;
        pool = parent.Types.Count > 0 && parent.Types.All(t => t.Gvt is not null)
            ? new Pool(
                parent.Types.Max(t => (long)Math.Max(0, t.AvailableInstances) * t.Gvt!.LowGmMiB),
                parent.Types.Max(t => (long)Math.Max(0, t.AvailableInstances) * t.Gvt!.HighGmMiB),
                parent.Types.Max(t => (long)Math.Max(0, t.AvailableInstances) * t.Gvt!.Fence))
            : null;
        _pools[parent.Name] = pool;
        return pool;
    }
}
